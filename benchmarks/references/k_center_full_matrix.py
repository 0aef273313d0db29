"""Reference (a): greedy k-center over a precomputed N x N distance matrix.

The simplest reading of Sener & Savarese (ICLR 2018, Algorithm 1): compute all pairwise
distances once, then each pick is a column-wise minimum update. Memory is N^2 floats.
"""

from __future__ import annotations

import numpy as np


def k_center_full_matrix(features: np.ndarray, centres: np.ndarray, budget: int) -> np.ndarray:
    """Greedy picks (cosine distance ``1 - x·c``) from the rows not in ``centres``."""
    dist = 1.0 - features @ features.T
    min_dist = dist[:, centres].min(axis=1)
    min_dist[centres] = -np.inf
    picks = []
    for _ in range(budget):
        pick = int(np.argmax(min_dist))
        picks.append(pick)
        np.minimum(min_dist, dist[:, pick], out=min_dist)
        min_dist[pick] = -np.inf
    return np.asarray(picks, dtype=np.int64)
