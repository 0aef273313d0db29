"""Where dataset specs and dataset files live.

Specs and the small embedded files are part of the distribution: the wheel maps the
repository's top-level ``datasets/`` folder to ``albench/_datasets``; a source checkout reads
``<repo>/datasets`` directly. Downloaded or user-supplied data lives under the data root:
the ``data_root`` argument, else ``$ALBENCH_DATA``, else ``data/`` in albench's cache
(``$ALBENCH_CACHE``, else ``~/.cache/albench``), so one variable moves everything albench
keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

from albench.files import cache_root

DATA_ROOT_ENV = "ALBENCH_DATA"


def datasets_dir() -> Path:
    """The folder holding ``specs/``, ``templates.json`` and ``data/``."""
    installed = Path(__file__).resolve().parents[1] / "_datasets"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "datasets"


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else ``$ALBENCH_DATA``, else ``<cache root>/data``."""
    if data_root is not None:
        return Path(data_root).expanduser()
    from_env = os.environ.get(DATA_ROOT_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return cache_root().expanduser() / "data"
