"""Run one benchmark case and record what docs/benchmarks.md reports about it.

Memory is the growth of the process's peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs`` before each round) over the resident set at the start of the
round, after ``malloc_trim`` has handed freed heap back to the kernel: the pages the call
touched beyond what was already resident, for numpy and torch allocations alike.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _trim_heap() -> None:
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name).malloc_trim(0)


class PeakMemory:
    """Peak resident growth (bytes) over the rounds it is reset for."""

    def __init__(self) -> None:
        self.peak = 0
        self._base = 0

    def reset(self) -> None:
        self.read()
        _trim_heap()
        _CLEAR_REFS.write_text("5")
        self._base = _status_kib("VmRSS")

    def read(self) -> int:
        if self._base:
            self.peak = max(self.peak, (_status_kib("VmHWM") - self._base) * 1024)
        return self.peak


def run_case(
    benchmark: Any,
    fn: Callable[[], Any],
    *,
    rounds: int,
    info: dict[str, Any],
) -> Any:
    """Time ``fn`` over ``rounds`` rounds and store ``info`` plus peak memory."""
    memory = PeakMemory()
    result = benchmark.pedantic(fn, setup=memory.reset, rounds=rounds, iterations=1)
    benchmark.extra_info.update(info, peak_bytes=memory.read())
    return result
