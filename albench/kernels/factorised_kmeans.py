"""Lloyd's k-means over factorised gradient embeddings ``g_i = a_i ⊗ x_i`` (LoGo, BADGE's space).

LoGo (Kim et al., CVPR 2023) clusters BADGE's last-layer gradient embeddings with k-means.
Materialising them is an N x (C*h) matrix; Lloyd's algorithm needs only, for every sample i
and centre M_k (a C x h matrix), the squared distance

    ||g_i - M_k||^2 = |a_i|^2 |x_i|^2 - 2 a_i^T M_k x_i + ||M_k||_F^2,

and each centre update M_k = mean over members of a_i x_i^T = A_k^T X_k / n_k. The k centres
(k x C x h) are held, the embeddings never are; rows are walked in blocks of
:mod:`albench.kernels.blocks`. One iteration costs N k C h multiply-adds.

With many clusters and classes that is more than the Gram matrix of the embeddings costs
once: ``<g_i, g_j> = (a_i . a_j)(x_i . x_j)`` is N^2 (C + h) multiply-adds, and a centre is
a weighted sum of rows, so Lloyd's distances come from the Gram matrix alone (kernel
k-means: ``<g_i, M_k> = sum_j w_kj G_ij``, ``||M_k||^2 = w_k^T G w_k``) at N^2 per
iteration. It is used when its one-off cost is below one iteration of the factorised form
and its N x N float64 matrix fits :data:`GRAM_BYTES` (LoGo on a pool of 20,000 rows with
C = 1,000, h = 512 and k = 1,000: 3.2 GB and about 30 s, against days for the factorised
iterations). Both forms run the same Lloyd iterations; they round differently.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from albench.kernels.blocks import row_blocks

#: Lloyd iterations at most (scikit-learn's default ``max_iter``)
MAX_ITERATIONS = 300
#: the largest Gram matrix the kernel form may hold (4 GiB: 23,170 rows in float64)
GRAM_BYTES = 4 << 30


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
    if gram_is_cheaper(a.shape[0], a.shape[1], f.shape[1], seeds.size):
        return kernel_lloyd(gram(a, f), seeds, max_iterations=max_iterations)
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


def gram_is_cheaper(n: int, c: int, h: int, k: int) -> bool:
    """Whether the Gram form's one-off N^2 (C + h) is below one factorised iteration's
    N k C h and its N x N float64 matrix fits :data:`GRAM_BYTES`."""
    return n * (c + h) < k * c * h and 8 * n * n <= GRAM_BYTES


def gram(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(N, N) inner products of ``g_i = a_i ⊗ f_i``: ``(a a^T) ∘ (f f^T)``, in row blocks."""
    n = a.shape[0]
    out = np.empty((n, n))
    for start, stop in row_blocks(n, n):
        np.multiply(a[start:stop] @ a.T, f[start:stop] @ f.T, out=out[start:stop])
    return out


def kernel_lloyd(
    gram: np.ndarray, seeds: np.ndarray, *, max_iterations: int = MAX_ITERATIONS
) -> np.ndarray:
    """Lloyd's k-means in the space whose inner products are ``gram``, from the rows
    ``seeds``: each centre is a weighted sum of rows (its members, 1 / n_k each), so a
    centre that loses every member keeps its weights, and ties go to the lower centre id."""
    n, k = gram.shape[0], seeds.size
    weights = sparse.csr_matrix((np.ones(k), (np.arange(k), seeds)), shape=(k, n))
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(max_iterations):
        cross = np.asarray(weights @ gram)  # (k, N): <M_k, g_i>
        norms = np.asarray(weights.multiply(cross).sum(axis=1)).ravel()  # ||M_k||^2
        assigned = np.argmin(norms[:, None] - 2.0 * cross, axis=0)
        if np.array_equal(assigned, labels):
            break
        labels = assigned
        weights = _member_weights(labels, weights)
    return labels


def _member_weights(labels: np.ndarray, previous: sparse.csr_matrix) -> sparse.csr_matrix:
    """Centre k = the mean of its members; a centre without members keeps ``previous``."""
    k, n = previous.shape
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    kept = previous[empty].tocoo()
    rows = np.concatenate([labels, empty[kept.row]])
    cols = np.concatenate([np.arange(n), kept.col])
    data = np.concatenate([1.0 / counts[labels], kept.data])
    return sparse.csr_matrix((data, (rows, cols)), shape=(k, n))
