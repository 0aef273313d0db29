"""Atomic file writes: nothing half-written is ever visible under a final name.

Every results file, report, cache manifest and checkpoint albench writes goes through
:func:`atomic_path`: the content is written to a hidden temporary sibling and renamed into
place, so an interrupted process leaves either the old file or the new one. A write refused
for lack of space becomes one :class:`DiskFullError` (:func:`space_checked`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from albench.errors import DiskFullError

#: errno values of a write refused for lack of space: disk full, quota exceeded
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def _default_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A hidden temporary sibling of ``path``, renamed onto ``path`` when the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path``
    is left as it was. The file gets the usual permissions (mkstemp's are owner-only), so
    results and reports can be shared like any other file.
    """
    with space_checked(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        temporary = Path(name)
        try:
            yield temporary
            os.chmod(temporary, _default_mode())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def space_checked(path: Path) -> Iterator[None]:
    """An OSError for lack of space in the block becomes one :class:`DiskFullError`.

    A full disk is the user's environment, not a bug: the CLI reports it in one line (exit
    2) instead of a traceback. Writers clean up their temporary files on the way out, so the
    message can promise that nothing was half-written.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in _NO_SPACE:
            raise
        raise DiskFullError(
            f"cannot write {path}: {os.strerror(error.errno)}; nothing was half-written and "
            "finished work is kept: free some space and rerun the same command"
        ) from error


def reserve(path: Path) -> None:
    """Allocate the disk blocks of ``path``'s current size now (``posix_fallocate``).

    A memory-mapped file is created sparse; on a full disk a write into its pages kills the
    process with SIGBUS rather than raising. Reserving first turns that into ENOSPC here.
    Where the call is missing (macOS) or the file system cannot reserve, nothing is done.
    """
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is None:
        return
    with Path(path).open("r+b") as handle:
        try:
            fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        except OSError as error:
            if error.errno in _NO_SPACE:
                raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """albench's cache folder: ``$ALBENCH_CACHE``, else ``~/.cache/albench`` (not created)."""
    base = os.environ.get("ALBENCH_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "albench"
