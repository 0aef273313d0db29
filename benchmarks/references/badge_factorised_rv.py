"""Reference (d): factorised BADGE k-means++ with a new discrete law per pick.

Distances come from the factors, ``|a_i|^2 |x_i|^2 + |a_c|^2 |x_c|^2 - 2 (a_i·a_c)(x_i·x_c)``
(no N x (C*h) matrix), but each draw builds a ``scipy.stats.rv_discrete`` over all N
squared distances, as the original BADGE code does per pick.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def badge_factorised_rv(
    scale: np.ndarray, x: np.ndarray, budget: int, rng: np.random.Generator
) -> np.ndarray:
    """k-means++ picks over ``g_i = scale_i ⊗ x_i``, one ``rng`` uniform per draw."""
    n = scale.shape[0]
    sq = (scale * scale).sum(axis=1) * (x * x).sum(axis=1)
    picks = [int(np.argmax(sq))]
    d2 = np.full(n, np.inf, dtype=np.float32)
    for _ in range(budget - 1):
        c = picks[-1]
        new = sq + sq[c] - 2.0 * (scale @ scale[c]) * (x @ x[c])
        d2 = np.minimum(d2, np.maximum(new, 0.0))
        d2[picks] = 0.0
        weights = d2.astype(np.float64)
        law = stats.rv_discrete(values=(np.arange(n), weights / weights.sum()))
        picks.append(int(law.rvs(random_state=rng)))
    return np.asarray(picks, dtype=np.int64)
