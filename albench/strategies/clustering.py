"""Feature helpers shared by the representativeness strategies (TypiClust, ProbCover)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

#: pairwise entries held at once by blockwise computations (float32): about 64 MiB
BLOCK_ENTRIES = 1 << 24

#: above this many clusters, mini-batch k-means (as TypiClust does for large budgets)
MINIBATCH_ABOVE = 50


def unit_rows(features: np.ndarray) -> np.ndarray:
    """float32 copy with L2-normalised rows (zero rows stay zero)."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def kmeans_labels(features: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster ids from k-means++ (sklearn), seeded from ``rng``; deterministic per seed.

    Up to ``MINIBATCH_ABOVE`` clusters: the best of 3 k-means++ restarts; above, one
    mini-batch k-means run (sklearn's default). Runs in float64: sklearn's float32 distance
    path upcasts chunk by chunk and is many times slower in the k-means++ initialisation.
    """
    seed = int(rng.integers(0, 2**31 - 1))
    if n_clusters > MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=1)
    else:
        model = KMeans(n_clusters=n_clusters, random_state=seed, n_init=3)
    return model.fit_predict(np.asarray(features, dtype=np.float64)).astype(np.int64)


def row_blocks(n_rows: int, n_cols: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges whose block against ``n_cols`` columns fits the bound."""
    step = max(1, BLOCK_ENTRIES // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)
