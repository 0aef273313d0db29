"""A strategy for the process tests: random picks that take a known time and leave a trace.

Used through ``--strategy tests/pausing_strategy.py:Pausing`` (the file-plugin path users
have), so child processes run the real CLI. Each ``select`` touches one new file in
``$ALBENCH_TEST_MARKERS`` (when set) before pausing ``$ALBENCH_TEST_PAUSE`` seconds: the
markers say a run is mid-computation, and counting them counts the computations.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import numpy as np

from albench.strategies.base import Selection, Strategy, StrategyContext


class Pausing(Strategy):
    """Uniform random picks (deterministic per seed), slowed down and traced."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        markers = os.environ.get("ALBENCH_TEST_MARKERS")
        if markers:
            (Path(markers) / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        time.sleep(float(os.environ.get("ALBENCH_TEST_PAUSE", "0")))
        return Selection(indices=rng.choice(ctx.unlabelled, size=budget, replace=False))
