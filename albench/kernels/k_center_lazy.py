"""Lazy exact greedy k-center: stale upper bounds in a heap, refreshed on demand.

A candidate's distance to its nearest centre only shrinks as centres are added, so a value
computed earlier is an upper bound. Each pick pops the candidates with the largest bounds,
refreshes them against the centres added since their last refresh (one small GEMM), and
accepts the best refreshed one as soon as it beats the largest bound still in the heap; that
candidate is then the true farthest one, so the picks equal the plain greedy loop's. This is
the lazy-evaluation idea of Minoux (1978) applied to the k-center objective.
"""

from __future__ import annotations

import heapq

import numpy as np
import torch

#: candidates popped per refresh round at first; doubled while the test fails
FIRST_BATCH = 16


def lazy_picks(x: torch.Tensor, cand: torch.Tensor, dist: torch.Tensor, k: int) -> list[int]:
    """``k`` greedy picks (positions into ``cand``) given exact current distances ``dist``.

    Candidates whose ``dist`` is -inf are never picked (already chosen).
    """
    bound = dist.cpu().numpy().astype(np.float64)
    stamp = np.zeros(bound.size, dtype=np.int64)
    heap = [(-float(b), int(p)) for p, b in enumerate(bound) if b != -np.inf]
    heapq.heapify(heap)
    chosen = torch.empty((k, x.shape[1]), device=x.device)
    picks: list[int] = []
    for step in range(min(k, len(heap))):
        batch: list[tuple[float, int]] = []
        size = FIRST_BATCH
        while True:
            popped = [heapq.heappop(heap) for _ in range(min(size, len(heap)))]
            _refresh(x, cand, chosen, step, bound, stamp, [p for _, p in popped])
            batch += [(-bound[p], p) for _, p in popped]
            best = min(batch)
            if not heap or best < heap[0]:
                break
            size *= 2
        picks.append(best[1])
        chosen[step] = x[cand[best[1]]]
        for item in batch:
            if item != best:
                heapq.heappush(heap, item)
    return picks


def _refresh(
    x: torch.Tensor,
    cand: torch.Tensor,
    chosen: torch.Tensor,
    step: int,
    bound: np.ndarray,
    stamp: np.ndarray,
    positions: list[int],
) -> None:
    """Fold centres ``chosen[stamp[p]:step]`` into ``bound[p]`` for each stale position."""
    pos = np.asarray(positions, dtype=np.int64)
    pos = pos[stamp[pos] < step]
    if pos.size == 0:
        return
    since = int(stamp[pos].min())
    rows = x[cand[torch.from_numpy(pos).to(x.device)]]
    sims = (rows @ chosen[since:step].T).amax(dim=1)
    fresh = (1.0 - sims).cpu().numpy().astype(np.float64)
    bound[pos] = np.minimum(bound[pos], fresh)
    stamp[pos] = step
