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

#: most stale candidates re-evaluated together in one step (one GEMM); a step starts with one
#: and doubles while the leader is stale, so it evaluates at most twice what it needs
MAX_BATCH = 64


def gaussian_kernel_rows(
    x: np.ndarray, rows: np.ndarray, bandwidth: float, sq: np.ndarray | None = None
) -> np.ndarray:
    """(len(rows), N) kernel values exp(-||x_r - x_j||^2 / bandwidth^2); ``sq``: the rows'
    squared norms, when the caller already has them."""
    sq = (x * x).sum(axis=1) if sq is None else sq
    d2 = np.maximum(sq[rows, None] + sq[None, :] - 2.0 * x[rows] @ x.T, 0.0)
    return np.exp(-d2 / bandwidth**2)


def _gains(
    x: np.ndarray,
    sq: np.ndarray,
    rows: np.ndarray,
    best: np.ndarray,
    bandwidth: float,
    weights: np.ndarray | None,
) -> np.ndarray:
    gains = np.empty(rows.size)
    for lo, hi in row_blocks(rows.size, x.shape[0]):
        kernel = gaussian_kernel_rows(x, rows[lo:hi], bandwidth, sq)
        gain = np.maximum(kernel - best[None, :], 0.0)
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

    Each step re-evaluates the leading stale bounds in batches (1, 2, 4, ... up to
    :data:`MAX_BATCH` candidates, one kernel block each) until the leader's gain is current:
    then it is at least every other candidate's bound, and so the plain greedy pick.
    """
    x = np.asarray(x, dtype=np.float64)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (x.shape[0],) or (weights < 0).any():
            raise ValueError("weights must be one non-negative value per row of x")
    candidates = np.asarray(candidates, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    sq = (x * x).sum(axis=1)
    best = np.zeros(x.shape[0])
    for lo, hi in row_blocks(start.size, x.shape[0]):
        best = np.maximum(best, gaussian_kernel_rows(x, start[lo:hi], bandwidth, sq).max(axis=0))
    bounds = _gains(x, sq, candidates, best, bandwidth, weights)
    heap = [(-gain, position) for position, gain in enumerate(bounds)]
    heapq.heapify(heap)
    current = np.zeros(candidates.size, dtype=np.int64)  # the step each bound was taken at
    picks, gains = [], []
    while len(picks) < min(k, candidates.size):
        step, batch = len(picks), 1
        while current[heap[0][1]] != step:
            stale = []
            while heap and len(stale) < batch and current[heap[0][1]] != step:
                stale.append(heapq.heappop(heap)[1])
            fresh = _gains(x, sq, candidates[stale], best, bandwidth, weights)
            for position, gain in zip(stale, fresh, strict=True):
                current[position] = step
                heapq.heappush(heap, (-gain, position))
            batch = min(2 * batch, MAX_BATCH)
        gain, position = heapq.heappop(heap)
        picks.append(position)
        gains.append(-gain)
        row = gaussian_kernel_rows(x, candidates[position : position + 1], bandwidth, sq)[0]
        best = np.maximum(best, row)
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)
