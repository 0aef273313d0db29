"""MaxHerding: greedy generalised coverage with a Gaussian kernel (Bae et al., ECCV 2024).

Bae, Noh & Sutherland, "Generalized Coverage for More Robust Low-Budget Active Learning"
(arXiv 2407.12212; reference code: the ``MaxHerding`` class of the authors' pycls-based
Uncertainty Herding code, which also holds MaxHerding). ProbCover's coverage with a kernel in
place of delta-balls: each pick is the unlabelled sample that most increases
``mean_i max_{s in L + picks} k(x_i, s)`` with ``k(x, y) = exp(-||x - y||^2 / h^2)``
(bandwidth ``h``, the reference's default 1 on L2-normalised features), starting from the
labelled set. The greedy steps run in :func:`albench.kernels.max_herding`, without the
N x N kernel matrix the reference holds.

Large pools: the reference always works on the labelled set plus a random subset of
``compute_cand_size(|L|, B, 35000)`` unlabelled rows (``deep-al/pycls/utils/io.py``), which
bounds its kernel matrix. albench draws that subset (from the strategy's rng) only when more
than ``max_pool`` rows (default the reference's 35,000) are unlabelled, so selections on
smaller pools are those of the whole pool.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.errors import InvalidSpecError
from albench.strategies import pool_sample
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks

#: the reference's candidate subset size when nothing else binds (``max_size``)
MAX_POOL = 35_000
#: the reference's bound on (labelled + candidates) rows, ``45000 * (35000 + 10000)``
KERNEL_BOUND = 45_000 * (35_000 + 10_000)


def candidate_count(n_labelled: int, budget: int, max_pool: int) -> int:
    """The reference's ``compute_cand_size(l, budget, max_size)``: unlabelled rows drawn."""
    grown = n_labelled + budget
    size = int((KERNEL_BOUND + grown**2 / 4) ** 0.5 - 1.5 * grown)
    return max(min(max_pool, size), budget)


def herding_sample(
    ctx: StrategyContext,
    budget: int,
    max_pool: int,
    rng: np.random.Generator,
    row_capabilities: tuple[str, ...] = (),
) -> pool_sample.PoolSample | None:
    """The reference's candidate subset when more than ``max_pool`` rows are unlabelled."""
    if ctx.unlabelled.size <= max_pool:
        return None
    size = min(candidate_count(ctx.labelled.size, budget, max_pool), ctx.unlabelled.size)
    return pool_sample.draw(ctx, size, rng, "compute_cand_size", row_capabilities)


class MaxHerding(Strategy):
    """Greedy maximisation of Gaussian-kernel coverage over the pool's image features."""

    name = "max-herding"
    category = "representativeness"
    reference = (
        "Bae, Noh & Sutherland, Generalized Coverage for More Robust Low-Budget Active "
        "Learning, ECCV 2024 (arXiv:2407.12212)"
    )
    needs = frozenset({IMAGE_FEATURES})
    revision = 2  # 2: lazy greedy re-evaluates stale gains in batches (other rounding)

    def __init__(self, *, bandwidth: float = 1.0, max_pool: int = MAX_POOL):
        if bandwidth <= 0:
            raise InvalidSpecError(f"max-herding bandwidth must be > 0, got {bandwidth}")
        self.bandwidth = float(bandwidth)
        self.max_pool = pool_sample.check_max_pool(self.name, max_pool)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        sample = herding_sample(ctx, n_picks(budget, ctx.unlabelled.size), self.max_pool, rng)
        if sample is not None:
            return sample.lift(self.select_all(sample.ctx, budget))
        return self.select_all(ctx, budget)

    def select_all(self, ctx: StrategyContext, budget: int) -> Selection:
        """Greedy coverage over every row of ``ctx``."""
        pool = ctx.unlabelled
        picks, gains = kernels.max_herding(
            ctx.on_device(kernels.unit_rows(ctx.features)),
            ctx.labelled,
            pool,
            n_picks(budget, pool.size),
            self.bandwidth,
        )
        return Selection(indices=pool[picks], scores=gains)
