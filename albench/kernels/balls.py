"""Sparse neighbourhood graphs over cosine distance, built in row blocks.

Memory is bounded by one block of similarities (:mod:`albench.kernels.blocks`) plus the
edges kept (about 5 bytes per edge: int32 column index and int8 value), never N x N dense.
The edge count is the sum of ball sizes, so it grows with delta: with label-pure balls it
stays below N^2 / C.
Rows must be L2-normalised, so cosine distance is ``1 - x_i . x_j``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from albench.kernels.blocks import row_blocks


def ball_graph(features: np.ndarray, delta: float) -> sparse.csr_matrix:
    """Boolean CSR adjacency: ``i -> j`` when ``1 - x_i . x_j < delta``; always ``i -> i``."""
    n = features.shape[0]
    rows, cols = [], []
    for start, stop in row_blocks(n, n):
        similar = features[start:stop] @ features.T > np.float32(1.0 - delta)
        similar[np.arange(stop - start), np.arange(start, stop)] = True
        r, c = np.nonzero(similar)
        rows.append((r + start).astype(np.int32))
        cols.append(c.astype(np.int32))
    r, c = np.concatenate(rows), np.concatenate(cols)
    data = np.ones(r.size, dtype=np.int8)
    return sparse.csr_matrix((data, (r, c)), shape=(n, n))


def impure_radius(features: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query row, the cosine distance to the nearest row with a different label.

    A ball of radius delta (strict ``<``) around the query is label-pure iff delta is at
    most this value; +inf when every row shares the query's label.
    """
    out = np.empty(queries.size)
    for start, stop in row_blocks(queries.size, features.shape[0]):
        block = queries[start:stop]
        similarity = features[block] @ features.T
        similarity[labels[block][:, None] == labels[None, :]] = -np.inf
        out[start:stop] = 1.0 - similarity.max(axis=1)
    return out
