"""Candidates, then clusters: the diversity step that DropQuery and ALFA-Mix share.

Both strategies first mark the unlabelled samples whose prediction is unstable (under
dropout, or under interpolation towards the labelled classes), then spread the budget over
them with k-means, one cluster per pick, taking the candidate nearest each cluster's mean
(Parvaneh et al., CVPR 2022, sec. 3.3; Gupte et al., TMLR 2024, sec. 4). With no more
candidates than the budget, every candidate is taken and the rest is drawn uniformly from
the other unlabelled samples, as both reference implementations do.
"""

from __future__ import annotations

import numpy as np

from albench import kernels


def cluster_representatives(
    embeddings: np.ndarray, candidates: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """``k`` distinct positions into ``embeddings``: representatives of the ``candidates``.

    More than ``k`` candidates: k-means into ``k`` clusters and each cluster's member nearest
    its mean (topped up uniformly from the other candidates should k-means return fewer
    distinct clusters). At most ``k``: all candidates, then uniform draws from the rest.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if candidates.size > k:
        clusters = kernels.kmeans_labels(embeddings[candidates], k, rng)
        chosen = candidates[kernels.nearest_to_means(embeddings[candidates], clusters)]
        pool = candidates
    else:
        chosen = candidates
        pool = np.arange(embeddings.shape[0])
    rest = np.setdiff1d(pool, chosen)
    extra = rng.choice(rest, size=k - chosen.size, replace=False)
    return np.concatenate([chosen, extra]).astype(np.int64)
