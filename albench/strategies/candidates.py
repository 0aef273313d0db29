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
    candidate_rows: np.ndarray,
    candidates: np.ndarray,
    n_rows: int,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``k`` distinct positions in ``range(n_rows)``: representatives of the ``candidates``,
    whose embeddings are ``candidate_rows`` (one row per candidate, in that order).

    More than ``k`` candidates: k-means into ``k`` clusters and each cluster's member nearest
    its mean (topped up uniformly from the other candidates should k-means return fewer
    distinct clusters). At most ``k``: all candidates, then uniform draws from the rest.
    Only the candidates' embeddings are read, so a pool of ImageNet's size is never copied.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if candidates.size > k:
        clusters = kernels.kmeans_labels(candidate_rows, k, rng)
        chosen = candidates[kernels.nearest_to_means(candidate_rows, clusters)]
        pool = candidates
    else:
        chosen = candidates
        pool = np.arange(n_rows)
    rest = np.setdiff1d(pool, chosen)
    extra = rng.choice(rest, size=k - chosen.size, replace=False)
    return np.concatenate([chosen, extra]).astype(np.int64)
