"""PowerBALD: a batch drawn with probability proportional to BALD^beta (Kirsch et al., 2023).

"Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning" (Kirsch, Farquhar,
Atighehchian, Jesson, Branchaud-Charron & Gal, TMLR 2023, arXiv 2106.12059) replaces BALD's
top-B by B draws without replacement with probability proportional to score^beta, which
the Gumbel-top-k trick does exactly: the B largest beta * log(score) + Gumbel(0, 1). Read
against ``BlackHC/active_learning_redux``,
``batchbald_redux/acquisition_functions/stochastic_acquisition.py`` (``get_power_samples``:
log score plus Gumbel noise of scale 1 / coldness, then top-k; coldness is beta). ``beta=1``
as the paper recommends; ``samples=100`` MC passes as ``bald``.

Differences: scores of 0 (or round-off below 0) are floored at the smallest positive float
before the log, where the reference's ``log`` gives -inf or NaN: they then rank after every
positive score and uniformly among themselves; the Gumbel noise comes from the run's
``rng`` (the reference draws from scipy's global state); the pool is scored in row blocks.
"""

from __future__ import annotations

import numpy as np

from albench.capabilities import MC_PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.bald import SAMPLES, bald_scores, check_samples
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks, top_k


class PowerBald(Strategy):
    """Samples the batch with probability proportional to BALD ** beta."""

    name = "power-bald"
    category = "uncertainty"
    reference = (
        "Kirsch et al., Stochastic Batch Acquisition: A Simple Baseline for Deep Active "
        "Learning, TMLR 2023 (arXiv:2106.12059)"
    )
    needs = frozenset({MC_PROBABILITIES})

    def __init__(self, *, beta: float = 1.0, samples: int = SAMPLES):
        if not beta > 0:
            raise InvalidSpecError(f"power-bald beta must be > 0, got {beta!r}")
        self.beta = float(beta)
        self.samples = check_samples(self.name, samples)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        scores = bald_scores(ctx, pool, self.samples)
        floor = np.finfo(np.float64).tiny
        keys = self.beta * np.log(np.maximum(scores, floor)) + rng.gumbel(size=pool.size)
        picked = top_k(keys, n_picks(budget, pool.size))
        return Selection(indices=pool[picked], scores=scores[picked])
