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
from typing import Any

import numpy as np

from albench.arrays import is_tensor
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


class _HostCoverage:
    """The coverage arithmetic of :func:`max_herding` in numpy float64: each sample's best
    kernel value to the set so far, and candidates' gains against it, in row blocks."""

    def __init__(self, x: np.ndarray, bandwidth: float, weights: np.ndarray | None):
        self.x = np.asarray(x, dtype=np.float64)
        self.sq = (self.x * self.x).sum(axis=1)
        self.bandwidth, self.weights = bandwidth, weights
        self.best = np.zeros(self.x.shape[0])

    def cover(self, rows: np.ndarray) -> None:
        """Add ``rows`` to the set: raise each sample's best kernel value."""
        for lo, hi in row_blocks(rows.size, self.x.shape[0]):
            kernel = gaussian_kernel_rows(self.x, rows[lo:hi], self.bandwidth, self.sq)
            self.best = np.maximum(self.best, kernel.max(axis=0))

    def gains(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) gain of adding each row alone, given the set so far."""
        gains = np.empty(rows.size)
        for lo, hi in row_blocks(rows.size, self.x.shape[0]):
            kernel = gaussian_kernel_rows(self.x, rows[lo:hi], self.bandwidth, self.sq)
            gain = np.maximum(kernel - self.best[None, :], 0.0)
            if self.weights is not None:
                gain *= self.weights[None, :]
            gains[lo:hi] = gain.mean(axis=1)
        return gains


class _DeviceCoverage:
    """:class:`_HostCoverage` in torch float64 on the features' device (a GPU run): the
    same terms in the same order; only the gains, one per candidate, come to the host. Its
    GEMMs and exponentials round apart from numpy's in the last bits, and a gain is a mean
    of small differences of kernel values, so two gains closer than that can swap: the
    greedy order may then differ (``benchmarks/selection_parity.py`` measures how often)."""

    def __init__(self, x: Any, bandwidth: float, weights: np.ndarray | None):
        import torch  # only tensor inputs get here

        from albench.kernels._tensor import tensor_view

        self.torch, self.tensor_view = torch, tensor_view
        self.x = x.to(torch.float64)
        self.sq = (self.x * self.x).sum(dim=1)
        self.bandwidth = bandwidth
        self.weights = None if weights is None else torch.as_tensor(weights, device=x.device)
        self.best = torch.zeros(self.x.shape[0], dtype=torch.float64, device=x.device)

    def _kernel_rows(self, rows: np.ndarray) -> Any:
        at = self.tensor_view(rows).to(self.x.device)
        d2 = (self.sq[at, None] + self.sq[None, :] - 2.0 * self.x[at] @ self.x.T).clamp_min(0.0)
        return self.torch.exp(-d2 / self.bandwidth**2)

    def cover(self, rows: np.ndarray) -> None:
        for lo, hi in row_blocks(rows.size, self.x.shape[0]):
            kernel = self._kernel_rows(rows[lo:hi])
            self.best = self.torch.maximum(self.best, kernel.amax(dim=0))

    def gains(self, rows: np.ndarray) -> np.ndarray:
        gains = self.torch.empty(rows.size, dtype=self.torch.float64, device=self.x.device)
        for lo, hi in row_blocks(rows.size, self.x.shape[0]):
            gain = (self._kernel_rows(rows[lo:hi]) - self.best[None, :]).clamp_min(0.0)
            if self.weights is not None:
                gain *= self.weights[None, :]
            gains[lo:hi] = gain.mean(dim=1)
        return gains.cpu().numpy()


def max_herding(
    x: np.ndarray | Any,
    start: np.ndarray,
    candidates: np.ndarray,
    k: int,
    bandwidth: float = 1.0,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` greedy picks among ``candidates`` (positions in pick order) and their gains.

    ``x``: (N, d) features, numpy, or a torch tensor whose device then computes the
    kernel (a GPU run). ``start``: rows already in the set (the labelled samples).
    ``weights``: (N,) non-negative weight of each row's coverage term (Uncertainty
    Herding's u_i); None weighs all rows 1. Equal gains go to the lower candidate position.

    Each step re-evaluates the leading stale bounds in batches (1, 2, 4, ... up to
    :data:`MAX_BATCH` candidates, one kernel block each) until the leader's gain is current:
    then it is at least every other candidate's bound, and so the plain greedy pick.
    """
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (x.shape[0],) or (weights < 0).any():
            raise ValueError("weights must be one non-negative value per row of x")
    candidates = np.asarray(candidates, dtype=np.int64)
    coverage = (_DeviceCoverage if is_tensor(x) else _HostCoverage)(x, bandwidth, weights)
    coverage.cover(np.asarray(start, dtype=np.int64))
    bounds = coverage.gains(candidates)
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
            fresh = coverage.gains(candidates[stale])
            for position, gain in zip(stale, fresh, strict=True):
                current[position] = step
                heapq.heappush(heap, (-gain, position))
            batch = min(2 * batch, MAX_BATCH)
        gain, position = heapq.heappop(heap)
        picks.append(position)
        gains.append(-gain)
        coverage.cover(candidates[position : position + 1])
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)
