"""Where a result came from: software versions, code commit, device and time.

Recorded with every results row so that a number in a paper can be traced to the code and
environment that produced it.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from albench import __version__


@cache
def git_commit() -> str:
    """The commit of the albench source tree, "" outside a git checkout."""
    source = Path(__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return ""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _distribution_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def provenance(device: str) -> dict[str, str]:
    """The provenance columns of a results row (see ``albench.results``)."""
    return {
        "albench_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "open_clip_version": _distribution_version("open_clip_torch"),
        "device": device,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
