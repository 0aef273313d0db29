"""Uniform random sampling: the baseline every strategy must beat."""

from __future__ import annotations

import numpy as np

from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks


class RandomSampling(Strategy):
    """Draws the budget uniformly without replacement from the unlabelled pool."""

    name = "random"
    category = "baseline"
    reference = "uniform sampling without replacement (passive learning baseline)"

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        picked = rng.choice(pool.size, size=n_picks(budget, pool.size), replace=False)
        return Selection(indices=pool[picked])
