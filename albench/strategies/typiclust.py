"""TypiClust: typical samples of uncovered clusters (Hacohen, Dekel & Weinshall, ICML 2022).

For low budgets, "To Actively Initialize Active Learning" queries typical rather than
uncertain samples. As in the reference implementation (``deep-al/pycls/al/typiclust.py`` of
github.com/avihu111/TypiClust):

* the pool's image features are clustered by k-means into |L| + B clusters (at most
  ``max_clusters``, the reference's 500);
* clusters of ``min_cluster_size`` members or fewer (the reference's 5) are dropped, unless
  every cluster is that small (then all are kept: the reference would fail);
* the kept clusters are ordered once, by fewest labelled members, then largest first (then
  lowest cluster id), and pick i comes from the i-th of them, cycling when B exceeds their
  number; a cluster with no unlabelled member left is passed over, and when only dropped
  clusters have unlabelled members left they are used in the same order (the reference
  would fail);
* each pick is the most typical unlabelled member of its cluster, typicality computed over
  the cluster's unlabelled members only (labelled samples and earlier picks excluded) with
  min(``neighbours``, members // 2) neighbours (reference: 20). The reference computes it
  again over the whole cluster at every pick; albench keeps it exact as picks leave the
  cluster (:class:`albench.kernels.typicality.ShrinkingTypicality`), searching again only
  the rows that lost their neighbours: the same typicality, to rounding.

Typicality is the inverse mean Euclidean distance to those neighbours (the paper, sec. 3.2);
the reference's faiss index returns squared distances, which can order members differently.
Features are used as given (the pool's CLIP features are already L2-normalised).

Large pools: the reference clusters the whole pool (mini-batch k-means above 50 clusters,
as albench) and computes typicality over whole clusters, quadratic in a cluster's size: with
few clusters on a pool of ImageNet's size, a cluster holds 100,000s of rows. When more than
``max_pool`` rows (albench's choice, 100,000; no reference value) are unlabelled, TypiClust
runs on the labelled rows plus ``max_pool`` unlabelled rows drawn from the strategy's rng
(:mod:`albench.strategies.pool_sample`).
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.strategies import pool_sample
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks

#: unlabelled rows above which TypiClust works on a uniform sample of them (albench's choice)
MAX_POOL = 100_000


class TypiClust(Strategy):
    """Most typical unlabelled point of each least-covered large k-means cluster in turn."""

    name = "typiclust"
    #: 2: as its reference (small clusters dropped, unlabelled typicality); 3: typicality
    #: kept across picks (a mean over sorted distances, rounded differently)
    revision = 3
    category = "representativeness"
    reference = (
        "Hacohen, Dekel & Weinshall, Active Learning on a Budget: Opposite Strategies "
        "Suit High and Low Budgets, ICML 2022"
    )
    needs = frozenset({IMAGE_FEATURES})

    def __init__(
        self,
        *,
        neighbours: int = 20,
        max_clusters: int = 500,
        min_cluster_size: int = 5,
        max_pool: int = MAX_POOL,
    ):
        self.neighbours = int(neighbours)
        self.max_clusters = int(max_clusters)
        self.min_cluster_size = int(min_cluster_size)
        self.max_pool = pool_sample.check_max_pool(self.name, max_pool)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        sample = pool_sample.capped(ctx, self.max_pool, rng)
        if sample is not None:
            return sample.lift(self.select_all(sample.ctx, budget, rng))
        return self.select_all(ctx, budget, rng)

    def select_all(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        """TypiClust over every row of ``ctx``."""
        k = n_picks(budget, ctx.unlabelled.size)
        if k == 0:
            return Selection(indices=np.zeros(0, dtype=np.int64), scores=np.zeros(0))
        features = np.asarray(ctx.features, dtype=np.float32)
        n_clusters = min(ctx.labelled.size + k, self.max_clusters, ctx.n_pool)
        clusters = kernels.kmeans_labels(features, n_clusters, rng)
        order = cluster_order(clusters, ctx.labelled, n_clusters, self.min_cluster_size)
        left = np.bincount(clusters[ctx.unlabelled], minlength=n_clusters)
        unlabelled = np.zeros(ctx.n_pool, dtype=bool)
        unlabelled[ctx.unlabelled] = True
        #: cluster -> (its unlabelled members at its first pick, their typicality)
        scored: dict[int, tuple[np.ndarray, kernels.ShrinkingTypicality]] = {}
        picks, scores, turn = [], [], 0
        for _ in range(k):
            if not left[order].any():  # only small clusters have unlabelled members left
                order, turn = cluster_order(clusters, ctx.labelled, n_clusters, 0), 0
            while left[order[turn % order.size]] == 0:
                turn += 1
            cluster = int(order[turn % order.size])
            turn += 1
            if cluster not in scored:  # its first pick: only its own picks change it later
                members = np.flatnonzero((clusters == cluster) & unlabelled)
                typical = kernels.ShrinkingTypicality(features[members], self.neighbours)
                scored[cluster] = members, typical
            members, typical = scored[cluster]
            best = int(np.argmax(typical.typicality))
            picks.append(members[best])
            scores.append(typical.typicality[best])
            typical.remove(best)
            left[cluster] -= 1
        return Selection(indices=np.asarray(picks, dtype=np.int64), scores=np.asarray(scores))


def cluster_order(
    clusters: np.ndarray, labelled: np.ndarray, n_clusters: int, min_size: int
) -> np.ndarray:
    """Ids of the clusters larger than ``min_size`` (all non-empty ones when none is), by
    fewest labelled members, then largest, then lowest id: the order picks cycle through."""
    sizes = np.bincount(clusters, minlength=n_clusters)
    covered = np.bincount(clusters[labelled], minlength=n_clusters)
    ids = np.flatnonzero(sizes > min_size)
    if ids.size == 0:
        ids = np.flatnonzero(sizes > 0)
    return ids[np.lexsort((ids, -sizes[ids], covered[ids]))]
