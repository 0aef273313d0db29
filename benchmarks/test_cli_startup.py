"""A typo costs about what `albench --help` costs: names are checked before torch loads.

`albench run` with a misspelt strategy must fail in one line without importing torch,
open_clip, sklearn or pandas. Both commands are timed as whole processes (interpreter
start-up included), in back-to-back pairs so that a busy minute on a shared machine hits
both: before each timed typo run, its setup times one `albench --help`. docs/benchmarks.md
reports the median of the per-pair ratios (target: below 1.5).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

HELP = [sys.executable, "-m", "albench", "--help"]
TYPO = [
    sys.executable,
    "-m",
    "albench",
    "run",
    "--strategy",
    "random,entropyy",
    "--dataset",
    "digits",
]
PAIRS = 15


def _seconds(command: list[str], expected_status: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    assert done.returncode == expected_status, done.stderr
    return elapsed


def test_typo_against_help(benchmark):
    help_seconds: list[float] = []
    typo_seconds: list[float] = []

    def time_help_first():
        help_seconds.append(_seconds(HELP, 0))
        return (), {}

    def typo():
        typo_seconds.append(_seconds(TYPO, 2))

    _seconds(TYPO, 2)  # warm the file cache for both
    benchmark.pedantic(typo, setup=time_help_first, rounds=PAIRS, iterations=1)
    ratios = [t / h for t, h in zip(typo_seconds, help_seconds, strict=True)]
    benchmark.extra_info.update(
        reference="albench --help",
        median_help_seconds=statistics.median(help_seconds),
        median_typo_seconds=statistics.median(typo_seconds),
        median_ratio=statistics.median(ratios),
    )
