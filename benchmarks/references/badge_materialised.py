"""Reference (c): BADGE over materialised gradient embeddings (Ash et al., ICLR 2020).

As in the paper's released approach: build the N x (C*h) gradient embeddings, seed
k-means++ at the largest norm, and after each pick compute Euclidean distances to the new
centre with ``pairwise_distances`` and draw the next row from a ``scipy.stats.rv_discrete``
built over the squared distances. Chosen rows get weight 0 (the published code re-draws
instead; the law is the same).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import pairwise_distances


def badge_materialised(
    scale: np.ndarray, x: np.ndarray, budget: int, rng: np.random.Generator
) -> np.ndarray:
    """k-means++ picks over ``g_i = scale_i ⊗ x_i``, one ``rng`` uniform per draw."""
    n = scale.shape[0]
    g = (scale[:, :, None] * x[:, None, :]).reshape(n, -1)
    picks = [int(np.argmax((g * g).sum(axis=1)))]
    d2 = np.full(n, np.inf)
    for _ in range(budget - 1):
        new = pairwise_distances(g, g[picks[-1] : picks[-1] + 1]).ravel() ** 2
        d2 = np.minimum(d2, new)
        d2[picks] = 0.0
        law = stats.rv_discrete(values=(np.arange(n), d2 / d2.sum()))
        picks.append(int(law.rvs(random_state=rng)))
    return np.asarray(picks, dtype=np.int64)
