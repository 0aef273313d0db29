"""Cluster-Margin: margin candidates, spread over clusters (Citovsky et al., NeurIPS 2021).

"Batch Active Learning at Scale" (Algorithm 1) takes the ``k_m`` unlabelled samples with the
smallest margin, groups them by an average-linkage hierarchical clustering (HAC) of the
embeddings, sorts these clusters by size, smallest first, and fills the batch round-robin:
one sample drawn uniformly from each cluster in turn, revisiting the larger clusters until
the budget is met. Diversity comes from the clusters, informativeness from the margin.

Here ``k_m = candidates * budget`` and the embedding is the learner's ``embed`` under cosine
distance. The paper clusters the whole pool once with a distance threshold; average linkage
over a pool needs every pairwise distance (N x N), so albench clusters the ``k_m``
candidates each round instead (``k_m x k_m``). ``threshold`` is the paper's epsilon (a
cosine distance); left at None the tree is cut into ``budget`` clusters, so every cluster
that has a candidate is sampled before any is sampled twice.
"""

from __future__ import annotations

import numpy as np

from albench.capabilities import EMBED, PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.margin import Margin
from albench.strategies.ranking import n_picks, top_k


class ClusterMargin(Strategy):
    """Round-robin over HAC clusters of the lowest-margin candidates, smallest cluster first."""

    name = "cluster-margin"
    category = "hybrid"
    reference = (
        "Citovsky, DeSalvo, Gentile, Karydas, Rajagopalan, Rostamizadeh & Kumar, Batch "
        "Active Learning at Scale, NeurIPS 2021"
    )
    needs = frozenset({PROBABILITIES, EMBED})

    def __init__(self, *, candidates: float = 10.0, threshold: float | None = None):
        if candidates < 1:
            raise InvalidSpecError(f"cluster-margin candidates must be >= 1, got {candidates}")
        if threshold is not None and not 0 < threshold <= 2:
            raise InvalidSpecError(
                f"cluster-margin threshold is a cosine distance in (0, 2], not {threshold}"
            )
        self.candidates = float(candidates)
        self.threshold = threshold

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        if k == 0:
            return Selection(indices=np.zeros(0, dtype=np.int64))
        uncertainty = ctx.per_row(PROBABILITIES, pool, ctx.n_classes, Margin().score)
        n_candidates = min(pool.size, int(np.ceil(self.candidates * k)))
        candidates = pool[top_k(uncertainty, n_candidates)]
        clusters = self.clusters(
            ctx.per_row(EMBED, candidates, ctx.features.shape[1], np.asarray), k
        )
        picks = round_robin(clusters, k, rng)
        return Selection(
            indices=candidates[picks], info={"clusters": int(np.unique(clusters).size)}
        )

    def clusters(self, embeddings: np.ndarray, budget: int) -> np.ndarray:
        """Average-linkage HAC labels of the candidates (cosine distance)."""
        from scipy.cluster.hierarchy import fcluster, linkage  # here: listing stays instant

        if embeddings.shape[0] < 2:
            return np.zeros(embeddings.shape[0], dtype=np.int64)
        tree = linkage(embeddings.astype(np.float64), method="average", metric="cosine")
        if self.threshold is None:
            return fcluster(tree, budget, criterion="maxclust").astype(np.int64)
        return fcluster(tree, self.threshold, criterion="distance").astype(np.int64)


def round_robin(clusters: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``k`` picks: clusters smallest first (equal sizes: the one holding the
    earliest position first), one uniform draw from each per turn, until ``k`` are taken."""
    ids, first, sizes = np.unique(clusters, return_index=True, return_counts=True)
    order = np.lexsort((first, sizes))
    queues = [rng.permutation(np.flatnonzero(clusters == ids[c])) for c in order]
    picks: list[int] = []
    turn = 0
    while len(picks) < k:
        picks.extend(int(queue[turn]) for queue in queues if turn < queue.size)
        turn += 1
    return np.asarray(picks[:k], dtype=np.int64)
