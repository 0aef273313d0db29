"""A strategy for the fault tests: random picks that wait at a gate, leaving a trace.

Used through ``--strategy tests/gated_strategy.py:Gated`` (a file plugin, so Dask worker
processes load it by path). Each ``select`` touches ``<pid>-<uuid>`` in
``$ALBENCH_TEST_MARKERS`` (the process computing the run, and one marker per computation),
then waits until the file ``$ALBENCH_TEST_GATE`` exists, unless it takes one of the ticket
files in ``$ALBENCH_TEST_TICKETS`` (each lets exactly one selection through). A test can so
let a known number of selections pass and hold the rest mid-computation for as long as it
needs (to kill the process computing one, or the scheduler), then open the gate; no timing
is guessed. Without the variables the strategy is plain random picks.

``Dies`` kills the process computing it, as an out-of-memory kill would, where
``$ALBENCH_TEST_DIE`` is set (only in the workers of the test that uses it).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import numpy as np

from albench.strategies.base import Selection, Strategy, StrategyContext

#: a gate left shut this long fails the run instead of hanging the test
GATE_TIMEOUT_SECONDS = 120.0


class Gated(Strategy):
    """Uniform random picks (deterministic per seed), held until the gate opens."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        markers = os.environ.get("ALBENCH_TEST_MARKERS")
        if markers:
            (Path(markers) / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        gate = None if _took_a_ticket() else os.environ.get("ALBENCH_TEST_GATE")
        deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
        while gate and not Path(gate).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} stayed shut")
            time.sleep(0.02)
        return Selection(indices=rng.choice(ctx.unlabelled, size=budget, replace=False))


def _took_a_ticket() -> bool:
    """Whether this call removed one of the ticket files (an unlink succeeds only once)."""
    folder = os.environ.get("ALBENCH_TEST_TICKETS")
    for ticket in sorted(Path(folder).iterdir()) if folder else ():
        try:
            ticket.unlink()
        except FileNotFoundError:
            continue
        return True
    return False


class Dies(Strategy):
    """A run that takes its worker down with it (where ``$ALBENCH_TEST_DIE`` is set)."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        if os.environ.get("ALBENCH_TEST_DIE"):
            os.kill(os.getpid(), signal.SIGKILL)
        return Selection(indices=ctx.unlabelled[:budget].copy())
