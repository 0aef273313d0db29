"""LoGo: k-means on gradient embeddings, the most uncertain sample per cluster.

Kim, Seo, Rhee, Kim & Yun, "Re-thinking Federated Active Learning based on Inter-class
Diversity", CVPR 2023 (reference code: ``raymin0223/LoGo``, ``query_strategies/fal/logo.py``).
Its macro step clusters the unlabelled pool by k-means, with one cluster per query, over
BADGE's last-layer gradient embeddings at the predicted label (uncertainty-weighted
features: the embedding's norm grows with the model's uncertainty); its micro step queries,
in each cluster, the sample of highest predictive entropy. In federated learning the first
step uses the client's local model and the second the global one; a single learner plays
both roles here.

The clustering is Lloyd's algorithm on the factors (:func:`albench.kernels.
gradient_embedding_kmeans`) from BADGE's k-means++ seeds, never materialising the
N x (C*h) embeddings. When clusters end up empty, the remaining picks go to the next most
uncertain member of each cluster in turn, as the reference's fallback does.

Large pools: one Lloyd iteration costs N k C h multiply-adds in the factorised form and its
kernel form holds an N x N matrix (:mod:`albench.kernels.factorised_kmeans`); the reference
runs scikit-learn's ``KMeans`` on the materialised embeddings of one client's unlabelled
pool. When more than ``max_pool`` rows (albench's choice, 20,000; no reference value) are
unlabelled, LoGo clusters the labelled rows' complement in a sample of ``max_pool``
unlabelled rows drawn from the strategy's rng (:mod:`albench.strategies.pool_sample`), its
learner outputs computed on those rows only. At C = 1,000, k = 1,000 a selection then costs
the sample's Gram matrix (3.2 GB, N^2 (C + h) multiply-adds) and its Lloyd iterations.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import GRAD_EMBEDDING, PROBABILITIES
from albench.strategies import pool_sample
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.entropy import Entropy
from albench.strategies.grad_factors import grad_factors
from albench.strategies.ranking import n_picks

#: unlabelled rows above which LoGo clusters a sample of the pool (albench's choice)
MAX_POOL = 20_000


class LoGo(Strategy):
    """Most uncertain (entropy) sample of each k-means cluster of gradient embeddings."""

    name = "logo"
    category = "hybrid"
    reference = (
        "Kim, Seo, Rhee, Kim & Yun, Re-thinking Federated Active Learning based on "
        "Inter-class Diversity, CVPR 2023"
    )
    needs = frozenset({GRAD_EMBEDDING, PROBABILITIES})
    revision = 3  # 2: a sample of the pool above max_pool unlabelled rows; 3: entropy in float64

    def __init__(self, *, max_pool: int = MAX_POOL):
        self.max_pool = pool_sample.check_max_pool(self.name, max_pool)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        sample = pool_sample.capped(ctx, self.max_pool, rng, (GRAD_EMBEDDING, PROBABILITIES))
        if sample is not None:
            return sample.lift(self.select_all(sample.ctx, budget, rng))
        return self.select_all(ctx, budget, rng)

    def select_all(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        if k == 0:
            return Selection(indices=np.zeros(0, dtype=np.int64), scores=np.zeros(0))
        factors = grad_factors(ctx, pool, on_device=False)  # Lloyd's steps run on the host
        scale, x = factors.scale, factors.x
        seeds = kernels.kmeanspp_select(scale, x, k, rng)
        clusters = kernels.gradient_embedding_kmeans(scale, x, seeds)
        uncertainty = ctx.per_row(PROBABILITIES, pool, ctx.n_classes, Entropy().score)
        picked = most_uncertain_per_cluster(clusters, uncertainty, k)
        return Selection(indices=pool[picked], scores=uncertainty[picked])


def most_uncertain_per_cluster(clusters: np.ndarray, uncertainty: np.ndarray, k: int) -> np.ndarray:
    """Positions of ``k`` picks: each cluster's most uncertain member, then each cluster's
    second most uncertain, and so on; within one such turn, most uncertain first (equal
    scores: lower position first)."""
    order = np.lexsort((np.arange(clusters.size), -uncertainty))
    depth = np.empty(clusters.size, dtype=np.int64)
    seen: dict[int, int] = {}
    for position in order:
        cluster = int(clusters[position])
        depth[position] = seen.get(cluster, 0)
        seen[cluster] = depth[position] + 1
    return np.lexsort((np.arange(clusters.size), -uncertainty, depth))[:k]
