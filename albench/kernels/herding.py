"""Greedy generalised coverage with a Gaussian kernel: MaxHerding (Bae et al., ECCV 2024).

"Generalized Coverage for More Robust Low-Budget Active Learning" (Bae, Noh & Sutherland)
replaces ProbCover's hard delta-balls by a kernel: the coverage of a set S is

    GCov(S) = (1/N) sum_i max_{s in S} k(x_i, s),    k(x, y) = exp(-||x - y||^2 / h^2),

and MaxHerding adds, B times, the candidate with the largest gain
``mean_i max(0, k(x_i, c) - m_i)``, where ``m_i`` is the best kernel value of sample i to
the set so far (0 for an empty set). The reference holds the N x N kernel matrix; here each
step walks the candidates in row blocks (:mod:`albench.kernels.blocks`) and keeps only
``m``, so memory stays O(N) at the price of recomputing kernel rows.
"""

from __future__ import annotations

import numpy as np

from albench.kernels.blocks import row_blocks


def gaussian_kernel_rows(x: np.ndarray, rows: np.ndarray, bandwidth: float) -> np.ndarray:
    """(len(rows), N) kernel values exp(-||x_r - x_j||^2 / bandwidth^2)."""
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[rows, None] + sq[None, :] - 2.0 * x[rows] @ x.T, 0.0)
    return np.exp(-d2 / bandwidth**2)


def max_herding(
    x: np.ndarray, start: np.ndarray, candidates: np.ndarray, k: int, bandwidth: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` greedy picks among ``candidates`` (positions in pick order) and their gains.

    ``start``: rows already in the set (the labelled samples). Equal gains go to the lower
    candidate position.
    """
    x = np.asarray(x, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=np.int64)
    best = np.zeros(x.shape[0])
    for start_row, stop_row in row_blocks(len(start), x.shape[0]):
        rows = np.asarray(start, dtype=np.int64)[start_row:stop_row]
        best = np.maximum(best, gaussian_kernel_rows(x, rows, bandwidth).max(axis=0))
    open_ = np.ones(candidates.size, dtype=bool)
    picks, gains = [], []
    for _ in range(min(k, candidates.size)):
        gain = np.full(candidates.size, -np.inf)
        for lo, hi in row_blocks(candidates.size, x.shape[0]):
            kernel = gaussian_kernel_rows(x, candidates[lo:hi], bandwidth)
            gain[lo:hi] = np.maximum(kernel - best[None, :], 0.0).mean(axis=1)
        gain[~open_] = -np.inf
        pick = int(np.argmax(gain))
        open_[pick] = False
        best = np.maximum(best, gaussian_kernel_rows(x, candidates[pick : pick + 1], bandwidth)[0])
        picks.append(pick)
        gains.append(float(gain[pick]))
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)
