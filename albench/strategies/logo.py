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
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import GRAD_EMBEDDING, PROBABILITIES
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.entropy import Entropy
from albench.strategies.grad_factors import grad_factors
from albench.strategies.ranking import n_picks


class LoGo(Strategy):
    """Most uncertain (entropy) sample of each k-means cluster of gradient embeddings."""

    name = "logo"
    category = "hybrid"
    reference = (
        "Kim, Seo, Rhee, Kim & Yun, Re-thinking Federated Active Learning based on "
        "Inter-class Diversity, CVPR 2023"
    )
    needs = frozenset({GRAD_EMBEDDING, PROBABILITIES})

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        if k == 0:
            return Selection(indices=np.zeros(0, dtype=np.int64), scores=np.zeros(0))
        factors = grad_factors(ctx, pool, on_device=False)  # Lloyd's steps run on the host
        scale, x = factors.scale, factors.x
        seeds = kernels.kmeanspp_select(scale, x, k, rng)
        clusters = kernels.gradient_embedding_kmeans(scale, x, seeds)
        uncertainty = Entropy().score(np.asarray(ctx.probabilities())[pool])
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
