"""Run claims: which process computes a run, decided by an OS lock per run id.

Several ``albench run`` processes may share one results folder (overlapping sweeps, or a
rerun started while the first one still runs). Before computing a run a process takes the
run's claim: an exclusive, non-blocking ``flock`` on ``runs/<run_id>.claim``. The lock
belongs to the open file, not to the file's existence, so the OS drops it however the
holder ends (SIGKILL included) and a claim file left behind blocks nobody. ``flock`` locks
one open file, not one process, so two sweeps in one process exclude each other too.

Holding the claim, a process checks again whether the run is finished (another process may
have finished it in between), removes the run's leftover temporary files (nobody else can
be writing them), computes, writes, then deletes the claim file and unlocks. The file is
deleted only once the run is finished, which keeps claims exclusive: a process that locks a
claim file just unlinked (it opened it a moment before) finds the run finished and leaves.

POSIX only (``fcntl``). On network file systems the results folder must support locks
(NFSv4, Lustre and BeeGFS do); a Dask sweep needs them on the driver's folder only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from albench.results import RUNS_DIR, is_finished

_CLAIM_SUFFIX = ".claim"


class Claim:
    """The held claim on one run; :meth:`release` once, after writing or giving up."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    def release(self, *, finished: bool) -> None:
        """Unlock; delete the claim file first when the run's result is written."""
        if finished:
            self.path.unlink(missing_ok=True)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def claim_path(out: Path, run_id: str) -> Path:
    return Path(out) / RUNS_DIR / f"{run_id}{_CLAIM_SUFFIX}"


def try_claim(out: Path, run_id: str) -> Claim | None:
    """The claim on ``run_id``, or None while another process (or sweep) holds it."""
    path = claim_path(out, run_id)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Claim(path, fd)


def temporaries(out: Path, run_id: str) -> list[Path]:
    """Temporary files of interrupted writes of ``run_id`` (``albench.files`` names)."""
    return sorted((Path(out) / RUNS_DIR).glob(f".{run_id}.*.tmp"))


def remove_temporaries(out: Path, run_id: str) -> None:
    """Delete ``run_id``'s temporary files; call only while holding its claim."""
    for path in temporaries(out, run_id):
        path.unlink(missing_ok=True)


def remove_orphans(out: Path) -> None:
    """Temporary files of killed writers, for every run whose claim is free right now."""
    runs = Path(out) / RUNS_DIR
    if not runs.is_dir():
        return
    run_ids = {path.name[1:].split(".", 1)[0] for path in runs.glob(".*.tmp")}
    for run_id in sorted(run_ids):
        claim = try_claim(out, run_id)
        if claim is not None:
            remove_temporaries(out, run_id)
            claim.release(finished=is_finished(out, run_id))


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """A short exclusive lock on the whole folder (for updating its sweep records)."""
    fd = os.open(Path(out) / ".sweeps.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
