"""Reference (b): incremental greedy k-center with one pairwise-distance call per pick.

The pattern of widely used public core-set code: keep each point's distance to its nearest
centre; initialise it with ``sklearn.metrics.pairwise_distances`` against the labelled set
(one N x |L| matrix) and, after each pick, call ``pairwise_distances`` against the new centre
and take the element-wise minimum.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances


def k_center_pairwise(features: np.ndarray, centres: np.ndarray, budget: int) -> np.ndarray:
    """Greedy picks (cosine distance) from the rows not in ``centres``."""
    min_dist = pairwise_distances(features, features[centres], metric="cosine").min(axis=1)
    min_dist[centres] = -np.inf
    picks = []
    for _ in range(budget):
        pick = int(np.argmax(min_dist))
        picks.append(pick)
        new = pairwise_distances(features, features[pick : pick + 1], metric="cosine")
        np.minimum(min_dist, new.ravel(), out=min_dist)
        min_dist[pick] = -np.inf
    return np.asarray(picks, dtype=np.int64)
