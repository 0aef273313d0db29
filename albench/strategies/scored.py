"""Score-then-rank strategies: a per-sample uncertainty score over the unlabelled pool.

Following baal's split of a heuristic into score and rank, a new uncertainty measure only
implements :meth:`ScoredStrategy.score`; ranking and tie-breaking are shared
(:func:`albench.strategies.ranking.top_k`). Scores are computed over the unlabelled rows in
blocks (``StrategyContext.blocks``), so the pool's full probability matrix is never held:
a score depends on its own row only, so the scores are those of the whole matrix.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from albench.arrays import is_tensor
from albench.capabilities import PROBABILITIES
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks, top_k


class ScoredStrategy(Strategy):
    """Picks the unlabelled samples with the highest :meth:`score` of their probabilities."""

    category: ClassVar[str] = "uncertainty"
    needs: ClassVar[frozenset[str]] = frozenset({PROBABILITIES})
    #: True when :meth:`score` also takes a torch tensor on any device (a block of a GPU
    #: run's probabilities, scored where it was computed); numpy blocks otherwise
    scores_tensors: ClassVar[bool] = False

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        """(n, C) probabilities -> (n,) informativeness; higher is queried first."""
        raise NotImplementedError

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        scores = ctx.per_row(
            PROBABILITIES, pool, ctx.n_classes, self.score, on_device=self.scores_tensors
        )
        picked = top_k(scores, n_picks(budget, pool.size))
        return Selection(indices=pool[picked], scores=scores[picked])


def as_tensor(probabilities: Any) -> Any:
    """A block of probabilities as a torch tensor without a copy: a view of a numpy block,
    or the tensor itself (on its own device). Scores are computed on torch's thread pool:
    numpy's reductions and ``astype`` run on one core, and at ImageNet's size (1.28M x
    1,000) they cost more than the learner's forward pass."""
    if is_tensor(probabilities):
        return probabilities
    from albench.kernels._tensor import tensor_view  # here: listing strategies stays instant

    return tensor_view(probabilities)
