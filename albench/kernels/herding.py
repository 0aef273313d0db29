"""Greedy generalised coverage with a Gaussian kernel: MaxHerding (Bae et al., ECCV 2024).

"Generalized Coverage for More Robust Low-Budget Active Learning" (Bae, Noh & Sutherland)
replaces ProbCover's hard delta-balls by a kernel: the coverage of a set S is

    GCov(S) = (1/N) sum_i max_{s in S} k(x_i, s),    k(x, y) = exp(-||x - y||^2 / h^2),

and MaxHerding adds, B times, the candidate with the largest gain
``mean_i max(0, k(x_i, c) - m_i)``, where ``m_i`` is the best kernel value of sample i to
the set so far (0 for an empty set). Uncertainty Herding (Bae, Oliveira & Sutherland, ICLR
2025) weights each sample's term by its uncertainty u_i >= 0 (uncertainty coverage), gain
``mean_i u_i max(0, k(x_i, c) - m_i)``: the same greedy steps with ``weights``. The reference
holds the N x N kernel matrix and rescans it every step. Coverage, weighted or not, is
submodular (a facility-location function with non-negative weights), so a gain
computed earlier bounds the current one from above; lazy greedy (Minoux, 1978) computes
every gain once, in row blocks (:mod:`albench.kernels.blocks`), then per step recomputes
only the candidates whose stale bound still leads. The picks are plain greedy's; memory
stays O(N).
"""

from __future__ import annotations

import heapq

import numpy as np

from albench.kernels.blocks import row_blocks


def gaussian_kernel_rows(x: np.ndarray, rows: np.ndarray, bandwidth: float) -> np.ndarray:
    """(len(rows), N) kernel values exp(-||x_r - x_j||^2 / bandwidth^2)."""
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[rows, None] + sq[None, :] - 2.0 * x[rows] @ x.T, 0.0)
    return np.exp(-d2 / bandwidth**2)


def _gains(
    x: np.ndarray,
    rows: np.ndarray,
    best: np.ndarray,
    bandwidth: float,
    weights: np.ndarray | None,
) -> np.ndarray:
    gains = np.empty(rows.size)
    for lo, hi in row_blocks(rows.size, x.shape[0]):
        gain = np.maximum(gaussian_kernel_rows(x, rows[lo:hi], bandwidth) - best[None, :], 0.0)
        if weights is not None:
            gain *= weights[None, :]
        gains[lo:hi] = gain.mean(axis=1)
    return gains


def max_herding(
    x: np.ndarray,
    start: np.ndarray,
    candidates: np.ndarray,
    k: int,
    bandwidth: float = 1.0,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` greedy picks among ``candidates`` (positions in pick order) and their gains.

    ``start``: rows already in the set (the labelled samples). ``weights``: (N,) non-negative
    weight of each row's coverage term (Uncertainty Herding's u_i); None weighs all rows 1.
    Equal gains go to the lower candidate position.
    """
    x = np.asarray(x, dtype=np.float64)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (x.shape[0],) or (weights < 0).any():
            raise ValueError("weights must be one non-negative value per row of x")
    candidates = np.asarray(candidates, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    best = np.zeros(x.shape[0])
    for lo, hi in row_blocks(start.size, x.shape[0]):
        best = np.maximum(best, gaussian_kernel_rows(x, start[lo:hi], bandwidth).max(axis=0))
    bounds = _gains(x, candidates, best, bandwidth, weights)
    heap = [(-gain, position) for position, gain in enumerate(bounds)]
    heapq.heapify(heap)
    picks, gains = [], []
    while len(picks) < min(k, candidates.size):
        _, position = heapq.heappop(heap)
        gain = _gains(x, candidates[position : position + 1], best, bandwidth, weights)[0]
        if heap and (-gain, position) > heap[0]:
            heapq.heappush(heap, (-gain, position))  # another bound may still beat it
            continue
        picks.append(position)
        gains.append(gain)
        row = gaussian_kernel_rows(x, candidates[position : position + 1], bandwidth)[0]
        best = np.maximum(best, row)
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)
