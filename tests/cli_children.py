"""`albench` commands in child processes, forked from one warm server.

A fresh interpreter spends seconds importing torch and open_clip; the crash, interrupt and
concurrency tests need several real processes they can kill. A ``forkserver`` that has
imported albench once forks each child in milliseconds; the child runs the real CLI
(``albench.cli.main``) in its own session (so a signal to its process group is a Ctrl-C),
with stdout and stderr in a log file and the environment given.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: the file-plugin strategy that pauses in each selection (``tests/pausing_strategy.py``)
PAUSING = f"{Path(__file__).resolve().parent / 'pausing_strategy.py'}:Pausing"

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    ["albench.cli", "albench.commands.run", "albench.sweep", "albench.inputs", "open_clip"]
)


def sweep_argv(strategies: str, out: Path) -> list[str]:
    """``albench run`` of ``strategies`` on the small tiny-clip / digits sweep used by the
    process tests: zero-shot learner, 3 seeds, 2 rounds, 400 pool images."""
    return [
        "run",
        "--dataset",
        "digits",
        "--backbone",
        "tiny-clip",
        "--learner",
        "zero-shot",
        "--strategy",
        strategies,
        "--seeds",
        "0-2",
        "--rounds",
        "2",
        "--pool-subsample",
        "400",
        "--out",
        str(out),
    ]


def _child(argv: Sequence[str], log: str, env: dict[str, str]) -> None:
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from albench.cli import main

    sys.exit(main(list(argv)))


def start(argv: Sequence[str], log: Path, env: dict[str, str] | None = None):
    """A started child process running ``albench *argv``."""
    child = _CONTEXT.Process(target=_child, args=(list(argv), str(log), dict(env or {})))
    child.start()
    return child


def wait_until(condition: Callable[[], bool], child, timeout: float = 120.0) -> None:
    """Poll ``condition`` until true; fail if the child exits or time runs out first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if not child.is_alive():
            raise AssertionError(f"child exited ({child.exitcode}) before the condition held")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def finish(child, timeout: float = 180.0) -> int:
    """The child's exit status (negative: killed by that signal)."""
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        raise AssertionError("child did not finish in time")
    return child.exitcode
