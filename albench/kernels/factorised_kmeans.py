"""Lloyd's k-means over factorised gradient embeddings ``g_i = a_i ⊗ x_i`` (LoGo, BADGE's space).

LoGo (Kim et al., CVPR 2023) clusters BADGE's last-layer gradient embeddings with k-means.
Materialising them is an N x (C*h) matrix; Lloyd's algorithm needs only, for every sample i
and centre M_k (a C x h matrix), the squared distance

    ||g_i - M_k||^2 = |a_i|^2 |x_i|^2 - 2 a_i^T M_k x_i + ||M_k||_F^2,

and each centre update M_k = mean over members of a_i x_i^T = A_k^T X_k / n_k. The k centres
(k x C x h) are held, the embeddings never are; rows are walked in blocks of
:mod:`albench.kernels.blocks`.
"""

from __future__ import annotations

import numpy as np

from albench.kernels.blocks import row_blocks

#: Lloyd iterations at most (scikit-learn's default ``max_iter``)
MAX_ITERATIONS = 300


def gradient_embedding_kmeans(
    scale: np.ndarray,
    x: np.ndarray,
    seeds: np.ndarray,
    *,
    max_iterations: int = MAX_ITERATIONS,
) -> np.ndarray:
    """Cluster ids of ``g_i = scale_i ⊗ x_i`` by Lloyd's algorithm from the rows ``seeds``.

    Each sample joins its nearest centre (ties: the lower centre id); a centre that loses
    every member keeps its place. Stops when no assignment changes.
    """
    a = np.asarray(scale, dtype=np.float64)
    f = np.asarray(x, dtype=np.float64)
    if a.shape[0] != f.shape[0]:
        raise ValueError(f"scale and x must have the same rows, got {a.shape[0]} and {f.shape[0]}")
    seeds = np.asarray(seeds, dtype=np.int64)
    centres = a[seeds, :, None] * f[seeds, None, :]
    labels = np.full(a.shape[0], -1, dtype=np.int64)
    for _ in range(max_iterations):
        assigned = nearest_centre(a, f, centres)
        if np.array_equal(assigned, labels):
            break
        labels = assigned
        for k in np.unique(labels):
            members = labels == k
            centres[k] = a[members].T @ f[members] / members.sum()
    return labels


def nearest_centre(a: np.ndarray, f: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Id of the nearest centre for every row (the row-constant |g_i|^2 term left out)."""
    k, c, h = centres.shape
    flat = centres.reshape(k * c, h)
    norms = (centres * centres).sum(axis=(1, 2))
    out = np.empty(a.shape[0], dtype=np.int64)
    for start, stop in row_blocks(a.shape[0], k * c):
        cross = (f[start:stop] @ flat.T).reshape(stop - start, k, c)
        inner = np.einsum("bkc,bc->bk", cross, a[start:stop])
        out[start:stop] = np.argmin(norms[None, :] - 2.0 * inner, axis=1)
    return out
