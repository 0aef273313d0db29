"""Weight files: where albench keeps them, how they are fingerprinted, whether a hub is reachable.

The feature cache keys extracted features by the sha256 of the weights that produced them, so
the digest must be exact; hashing a 600 MB checkpoint on every call would dominate short
runs, hence digests are memoised by (path, size, mtime) in memory and in a small JSON file.
Offline detection must be fast: a missing checkpoint has to be reported in seconds, not after
a hub client's retries (about 45 s), so the probe is one bounded TCP connect.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

from albench import files
from albench.files import cache_root, write_atomic

_TRUE = {"1", "true", "yes", "on"}
_DIGESTS: dict[tuple[str, int, int], str] = {}
_PROBE_HOST = ("huggingface.co", 443)
_PROBE_TIMEOUT_S = 1.5


def cache_dir() -> Path:
    """albench's cache root: ``$ALBENCH_CACHE`` or ``~/.cache/albench`` (created on demand)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _digest_file() -> Path:
    return cache_dir() / "weight-digests.json"


def _load_digests() -> dict[str, str]:
    try:
        stored = json.loads(_digest_file().read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def sha256_file(path: str | Path) -> str:
    """sha256 hex digest of ``path``, memoised by (resolved path, size, mtime_ns)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    text_key = "|".join(map(str, key))
    stored = _load_digests()
    digest = stored.get(text_key)
    if digest is None:
        digest = files.sha256_file(resolved)
        stored = _load_digests()
        stored[text_key] = digest
        write_atomic(_digest_file(), json.dumps(stored, indent=1, sort_keys=True).encode())
    _DIGESTS[key] = digest
    return digest


def hub_offline_requested() -> bool:
    """Whether the user asked for offline mode (``HF_HUB_OFFLINE``), read at call time."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_reachable(timeout_s: float = _PROBE_TIMEOUT_S) -> bool:
    """One TCP connect to the Hugging Face hub, bounded by ``timeout_s`` including DNS.

    Name resolution ignores socket timeouts, so the probe runs in a daemon thread and is
    abandoned (reported unreachable) when it has not finished in time.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(_PROBE_HOST, timeout=timeout_s):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


def offline() -> bool:
    """True when weights cannot be downloaded now (offline requested or hub unreachable)."""
    return hub_offline_requested() or not hub_reachable()
