"""BADGE: k-means++ seeding over gradient embeddings (Ash et al., ICLR 2020).

The gradient of the cross-entropy loss with respect to the last layer, taken at the
hypothetical label argmax p (never a true label), is ``(p - onehot(argmax p)) (x) x``: its
norm measures uncertainty, and k-means++ seeding over these embeddings trades uncertainty
against diversity. The learner provides the factors (:class:`GradEmbedding`); the kernel
:func:`albench.kernels.kmeanspp_select` works on them without materialising the N x (C*h)
embedding matrix.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.arrays import host
from albench.capabilities import GRAD_EMBEDDING
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.grad_factors import grad_factors
from albench.strategies.ranking import n_picks


class Badge(Strategy):
    """k-means++ seeding over the learner's factorised gradient embeddings."""

    name = "badge"
    category = "hybrid"
    reference = (
        "Ash, Zhang, Krishnamurthy, Langford & Agarwal, Deep Batch Active Learning by "
        "Diverse, Uncertain Gradient Lower Bounds, ICLR 2020"
    )
    needs = frozenset({GRAD_EMBEDDING})

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        factors = grad_factors(ctx, pool)
        rows = np.asarray(
            kernels.kmeanspp_select(factors.scale, factors.x, n_picks(budget, pool.size), rng)
        )
        scale, x = host(factors.scale[rows]), host(factors.x[rows])
        norms = np.linalg.norm(scale, axis=1) * np.linalg.norm(x, axis=1)
        return Selection(indices=pool[rows.astype(np.int64)], scores=norms)
