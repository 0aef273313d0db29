"""TypiClust: typical samples of uncovered clusters (Hacohen, Dekel & Weinshall, ICML 2022).

For low budgets, "To Actively Initialize Active Learning" queries typical rather than
uncertain samples. The pool's image features are clustered by k-means into |L| + B clusters
(capped at ``max_clusters``); each pick comes from the cluster holding the fewest labelled
samples (largest cluster first among equals, then lowest cluster id) and is its most
typical unlabelled member, typicality being the inverse mean Euclidean distance to the
``neighbours`` nearest members of the same cluster (paper: 20). Features are used as given
(the pool's CLIP features are already L2-normalised).
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks


class TypiClust(Strategy):
    """Most typical unlabelled point of the largest least-covered k-means cluster."""

    name = "typiclust"
    category = "representativeness"
    reference = (
        "Hacohen, Dekel & Weinshall, Active Learning on a Budget: Opposite Strategies "
        "Suit High and Low Budgets, ICML 2022"
    )
    needs = frozenset({IMAGE_FEATURES})

    def __init__(self, *, neighbours: int = 20, max_clusters: int = 500):
        self.neighbours = int(neighbours)
        self.max_clusters = int(max_clusters)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        k = n_picks(budget, ctx.unlabelled.size)
        if k == 0:
            return Selection(indices=np.zeros(0, dtype=np.int64), scores=np.zeros(0))
        features = np.asarray(ctx.features, dtype=np.float32)
        n_clusters = min(ctx.labelled.size + k, self.max_clusters, ctx.n_pool)
        clusters = kernels.kmeans_labels(features, n_clusters, rng)
        sizes = np.bincount(clusters, minlength=n_clusters)
        covered = np.bincount(clusters[ctx.labelled], minlength=n_clusters)
        unlabelled = np.zeros(ctx.n_pool, dtype=bool)
        unlabelled[ctx.unlabelled] = True
        left = np.bincount(clusters[ctx.unlabelled], minlength=n_clusters)
        cluster_order = np.arange(n_clusters)
        typicality: dict[int, np.ndarray] = {}
        picks, scores = [], []
        for _ in range(k):
            rank = np.lexsort((cluster_order, -sizes, covered))
            cluster = int(rank[left[rank] > 0][0])
            members = np.flatnonzero(clusters == cluster)
            if cluster not in typicality:
                typicality[cluster] = kernels.member_typicality(features[members], self.neighbours)
            open_members = unlabelled[members]
            best = int(np.argmax(np.where(open_members, typicality[cluster], -np.inf)))
            picks.append(members[best])
            scores.append(typicality[cluster][best])
            unlabelled[members[best]] = False
            covered[cluster] += 1
            left[cluster] -= 1
        return Selection(indices=np.asarray(picks, dtype=np.int64), scores=np.asarray(scores))
