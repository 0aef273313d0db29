"""k-means++ D^2 sampling by rejection from stale weights (exact in law).

A row's squared distance to its nearest chosen centre only shrinks as centres are added, so
weights computed at the last fold are upper bounds ``q_i >= p_i``. Each draw proposes ``i``
with probability ``q_i / sum q``, computes ``p_i`` against the centres chosen since the last
fold (a few dot products), and accepts with probability ``p_i / q_i``; on rejection it lowers
``q_i`` to ``p_i`` and proposes again. Accepted rows follow ``p_i / sum p`` exactly, the
k-means++ law (Arthur & Vassilvitskii, SODA 2007): per proposal the accepted mass of each row
is ``p_i`` and rejected mass is removed, so by induction on the number of rows with ``q_i >
p_i`` the output law is unchanged. The pending centres are folded into all weights with two
GEMMs once ``fold_every`` centres are pending or ``fold_every`` proposals were rejected since
the last fold (early picks, the largest-norm first pick above all, shrink most weights at
once), so the per-pick cost is compute-bound, not a pass over the factors.
"""

from __future__ import annotations

import numpy as np
import torch

from albench.kernels._tensor import all_threads, host_rows, single_threaded
from albench.kernels.blocks import row_block

#: rows per block of the two-level sampler
SAMPLER_BLOCK = 1024


class BlockSampler:
    """Inverse-CDF draws from non-negative weights with O(sqrt N) updates of one weight."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights
        self.reset()

    def reset(self) -> None:
        """Recompute every block sum (after a bulk change of ``weights``)."""
        n_blocks = -(-self.weights.size // SAMPLER_BLOCK)
        padded = np.zeros(n_blocks * SAMPLER_BLOCK)
        padded[: self.weights.size] = self.weights
        self.sums = padded.reshape(n_blocks, SAMPLER_BLOCK).sum(1)

    def set(self, i: int, value: float) -> None:
        self.weights[i] = value
        b = i // SAMPLER_BLOCK
        self.sums[b] = self.weights[b * SAMPLER_BLOCK : (b + 1) * SAMPLER_BLOCK].sum()

    def draw(self, u: float) -> int:
        """Row whose cumulative weight interval holds ``u * total``; -1 when total is 0."""
        cumulative = np.cumsum(self.sums)
        if cumulative[-1] <= 0.0:
            return -1
        target = u * cumulative[-1]
        b = min(int(np.searchsorted(cumulative, target, side="right")), self.sums.size - 1)
        rest = target - (cumulative[b - 1] if b else 0.0)
        inner = np.cumsum(self.weights[b * SAMPLER_BLOCK : (b + 1) * SAMPLER_BLOCK])
        return b * SAMPLER_BLOCK + min(
            int(np.searchsorted(inner, rest, side="right")), inner.size - 1
        )


class PendingCentres:
    """Centres chosen since the last fold, their factors copied into contiguous host buffers.

    ``a``, ``f``: the factors (CPU or device tensors; rows are read one at a time, so device
    factors never move to host memory as a whole); ``sq``: the squared norms on the host.
    """

    def __init__(self, capacity: int, a: torch.Tensor, f: torch.Tensor, sq: np.ndarray):
        self.a, self.f, self.sq = host_rows(a), host_rows(f), sq
        self.rows: list[int] = []
        self._a = np.empty((capacity, a.shape[1]), dtype=np.float32)
        self._f = np.empty((capacity, f.shape[1]), dtype=np.float32)
        self._sq = np.empty(capacity, dtype=np.float32)

    def add(self, i: int) -> None:
        m = len(self.rows)
        self._a[m], self._f[m], self._sq[m] = self.a(i), self.f(i), self.sq[i]
        self.rows.append(i)

    def sq_dist(self, i: int) -> float:
        """Squared distance from row ``i`` to its nearest pending centre (inf if none)."""
        m = len(self.rows)
        if m == 0:
            return float("inf")
        cross = (self._a[:m] @ self.a(i)) * (self._f[:m] @ self.f(i))
        return float(max((self._sq[:m] + self.sq[i] - 2.0 * cross).min(), 0.0))


def rejection_picks(
    a: torch.Tensor,
    f: torch.Tensor,
    sq: torch.Tensor,
    first: int,
    k: int,
    rng: np.random.Generator,
    fold_every: int,
) -> list[int]:
    """``k`` k-means++ picks starting from ``first``; see the module docstring.

    Proposals are checked on the host against the few rows they need (views for CPU
    tensors, one-row copies from a device).
    """
    n = a.shape[0]
    weights = np.full(n, np.inf)  # float64: exact sums for the sampler
    chosen = np.zeros(n, dtype=bool)
    chosen[first] = True
    picks = [first]
    fold_rows = row_block(fold_every)
    _fold(a, f, sq, picks, weights, chosen, fold_rows)
    sampler = BlockSampler(weights)
    pending = PendingCentres(fold_every, a, f, sq.cpu().numpy())
    rejected = 0
    threads = torch.get_num_threads()
    with single_threaded(a.device):
        while len(picks) < k:
            pick, misses = _draw_one(sampler, chosen, pending, rng)
            picks.append(pick)
            chosen[pick] = True
            sampler.set(pick, 0.0)
            pending.add(pick)
            rejected += misses
            full = len(pending.rows) == fold_every or rejected >= fold_every
            if full and len(picks) < k:
                with all_threads(threads):
                    _fold(a, f, sq, pending.rows, weights, chosen, fold_rows)
                sampler.reset()
                pending.rows, rejected = [], 0
    return picks


def _draw_one(
    sampler: BlockSampler, chosen: np.ndarray, pending: PendingCentres, rng: np.random.Generator
) -> tuple[int, int]:
    """One accepted draw and the number of rejections before it.

    Uniform over the unchosen rows when every weight is 0.
    """
    weights = sampler.weights
    misses = 0
    while True:
        i = sampler.draw(float(rng.random()))
        if i < 0:
            free = np.flatnonzero(~chosen)
            return int(free[min(int(rng.random() * free.size), free.size - 1)]), misses
        stale = weights[i]
        if stale <= 0.0:  # landed on a zero-weight row through rounding: propose again
            continue
        true = min(stale, pending.sq_dist(i))
        if true == stale or rng.random() * stale < true:
            return i, misses
        sampler.set(i, true)
        misses += 1


def _fold(a, f, sq, pending, weights, chosen, step: int) -> None:
    """Lower ``weights`` to the squared distances to the ``pending`` centres.

    Rows go ``step`` at a time: blocks sized for ``fold_every`` pending centres by the one
    rule of :mod:`albench.kernels.blocks` (4096 rows at the default 256).
    """
    idx = torch.tensor(pending, device=a.device)
    a_t, f_t, sq_p = a[idx].T.contiguous(), f[idx].T.contiguous(), sq[idx]
    for start in range(0, a.shape[0], step):
        stop = min(start + step, a.shape[0])
        cross = (a[start:stop] @ a_t) * (f[start:stop] @ f_t)
        d2 = (sq[start:stop, None] + sq_p[None, :] - 2.0 * cross).amin(dim=1).clamp_(min=0.0)
        np.minimum(weights[start:stop], d2.cpu().numpy(), out=weights[start:stop])
    weights[chosen] = 0.0
