"""k-means cluster ids for the representativeness strategies (TypiClust, ProbCover's delta)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

#: above this many clusters, mini-batch k-means (as TypiClust does for large budgets)
MINIBATCH_ABOVE = 50


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


def nearest_to_means(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster (in id order), the position of the member nearest the cluster's mean.

    The k-means representatives of ALFA-Mix and DropQuery; ties go to the lower position.
    """
    x = np.asarray(x, dtype=np.float64)
    picks = []
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        centre = x[members].mean(axis=0)
        picks.append(members[np.argmin(((x[members] - centre) ** 2).sum(axis=1))])
    return np.asarray(picks, dtype=np.int64)
