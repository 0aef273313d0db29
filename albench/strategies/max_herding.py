"""MaxHerding: greedy generalised coverage with a Gaussian kernel (Bae et al., ECCV 2024).

Bae, Noh & Sutherland, "Generalized Coverage for More Robust Low-Budget Active Learning"
(arXiv 2407.12212; reference code: the ``MaxHerding`` class of the authors' pycls-based
Uncertainty Herding code, which also holds MaxHerding). ProbCover's coverage with a kernel in
place of delta-balls: each pick is the unlabelled sample that most increases
``mean_i max_{s in L + picks} k(x_i, s)`` with ``k(x, y) = exp(-||x - y||^2 / h^2)``
(bandwidth ``h``, the reference's default 1 on L2-normalised features), starting from the
labelled set. The greedy steps run in :func:`albench.kernels.max_herding`, without the
N x N kernel matrix the reference holds.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks


class MaxHerding(Strategy):
    """Greedy maximisation of Gaussian-kernel coverage over the pool's image features."""

    name = "max-herding"
    category = "representativeness"
    reference = (
        "Bae, Noh & Sutherland, Generalized Coverage for More Robust Low-Budget Active "
        "Learning, ECCV 2024 (arXiv:2407.12212)"
    )
    needs = frozenset({IMAGE_FEATURES})

    def __init__(self, *, bandwidth: float = 1.0):
        if bandwidth <= 0:
            raise InvalidSpecError(f"max-herding bandwidth must be > 0, got {bandwidth}")
        self.bandwidth = float(bandwidth)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        picks, gains = kernels.max_herding(
            kernels.unit_rows(ctx.features),
            ctx.labelled,
            pool,
            n_picks(budget, pool.size),
            self.bandwidth,
        )
        return Selection(indices=pool[picks], scores=gains)
