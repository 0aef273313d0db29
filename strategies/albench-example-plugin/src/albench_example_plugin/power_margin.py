"""Power sampling over margin uncertainty (Kirsch et al., TMLR 2023).

"Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning" replaces top-B
by sampling B points without replacement with probability proportional to score ** beta;
the Gumbel-top-k trick does that exactly with one draw per point. Large ``beta`` recovers
deterministic margin sampling.
"""

from __future__ import annotations

import numpy as np

from albench.strategies import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks, top_k


class PowerMargin(Strategy):
    """Samples the batch with probability proportional to (1 - margin) ** beta."""

    name = "power-margin"
    category = "uncertainty"
    reference = "Kirsch et al., Stochastic Batch Acquisition for Deep Active Learning, TMLR 2023"
    needs = frozenset({"probabilities"})

    def __init__(self, *, beta: float = 1.0):
        self.beta = float(beta)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        top = np.sort(np.asarray(ctx.probabilities())[pool], axis=1)[:, ::-1]
        runner_up = top[:, 1] if top.shape[1] > 1 else 0.0
        uncertainty = 1.0 - (top[:, 0] - runner_up)
        keys = self.beta * np.log(np.maximum(uncertainty, 1e-12)) + rng.gumbel(size=pool.size)
        picked = top_k(keys, n_picks(budget, pool.size))
        return Selection(indices=pool[picked], scores=uncertainty[picked])
