"""Core-set selection by greedy k-center (Sener & Savarese, ICLR 2018).

Picks the unlabelled samples that minimise the largest distance from any pool sample to its
nearest labelled-or-picked sample (Algorithm 1, the greedy 2-approximation), over cosine
distance between the backbone's image features. The labelled set provides the initial
centres. Distances are computed by :func:`albench.kernels.greedy_k_center` in row blocks,
never as an N x N matrix.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks


class CoreSet(Strategy):
    """Greedy k-center over L2-normalised image features, labelled set as centres."""

    name = "coreset"
    category = "diversity"
    reference = (
        "Sener & Savarese, Active Learning for Convolutional Neural Networks: "
        "A Core-Set Approach, ICLR 2018"
    )
    needs = frozenset({IMAGE_FEATURES})

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        picked = kernels.greedy_k_center(
            ctx.on_device(kernels.unit_rows(ctx.features)),
            ctx.labelled,
            n_picks(budget, pool.size),
            candidates=pool,
            rng=rng,
        )
        return Selection(indices=np.asarray(picked, dtype=np.int64))
