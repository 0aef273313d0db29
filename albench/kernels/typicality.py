"""TypiClust's typicality (Hacohen, Dekel & Weinshall, ICML 2022, sec. 3.2), in row blocks."""

from __future__ import annotations

import numpy as np

from albench.kernels.blocks import row_blocks


def member_typicality(x: np.ndarray, neighbours: int) -> np.ndarray:
    """Inverse mean Euclidean distance of each row to its ``neighbours`` nearest other rows.

    Computed in row blocks (:mod:`albench.kernels.blocks`), so a large cluster never needs
    its full distance matrix.
    """
    k = min(neighbours, x.shape[0] - 1)
    if k < 1:
        return np.ones(x.shape[0])
    x = x.astype(np.float64)
    sq = (x * x).sum(axis=1)
    out = np.empty(x.shape[0])
    for start, stop in row_blocks(x.shape[0], x.shape[0]):
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * x[start:stop] @ x.T
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]
        out[start:stop] = 1.0 / (np.sqrt(np.maximum(nearest, 0.0)).mean(axis=1) + 1e-12)
    return out
