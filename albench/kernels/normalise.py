"""Unit-length rows: cosine geometry on the pool's image features."""

from __future__ import annotations

import numpy as np

from albench.kernels.blocks import row_blocks

#: largest |norm - 1| of a row that counts as unit-length: float32 normalisation leaves
#: rows within a few units in the last place of 1 (about 1e-7), so renormalising them
#: would copy the matrix to move each value by about one ulp
UNIT_TOLERANCE = 1e-6


def unit_rows(features: np.ndarray) -> np.ndarray:
    """L2-normalised float32 rows (zero rows stay zero): ``features`` itself when it is
    float32 and already unit-length, else a normalised copy. Callers never write to it.

    Cached features are float16 and only approximately unit-length; the cosine distance
    ``1 - x_i . x_j`` of k-center, ProbCover and the runner's evaluation needs exact ones.
    The runner hands strategies features it has normalised, and a copy of them would be
    the largest allocation of a selection at ImageNet's size.
    """
    x = np.asarray(features, dtype=np.float32)
    if x is features and x.ndim == 2 and _is_unit(x):
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _is_unit(x: np.ndarray) -> bool:
    """Every row's norm within :data:`UNIT_TOLERANCE` of 1, checked block by block."""
    for start, stop in row_blocks(x.shape[0], x.shape[1]):
        block = x[start:stop]
        sq = np.einsum("ij,ij->i", block, block)
        if np.abs(np.sqrt(sq) - 1.0).max(initial=0.0) > UNIT_TOLERANCE:
            return False
    return True
