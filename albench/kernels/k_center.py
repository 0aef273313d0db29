"""Greedy k-center selection (Sener & Savarese, ICLR 2018, Algorithm 1).

Each pick is the candidate farthest from its nearest centre, under the cosine distance
``1 - x·c`` of L2-normalised features. Distances to the initial centres are computed in row
blocks (one GEMM per block), so no N x N matrix is ever allocated.

Two exact pick loops give the same picks (up to float32 rounding at near-ties):
``"plain"`` updates every candidate's distance after each pick (one pass over the features
per pick, memory-bound); ``"lazy"`` (default) keeps stale upper bounds in a heap and
refreshes only the top of the heap (see :mod:`albench.kernels.k_center_lazy`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from albench.kernels._tensor import as_float_tensor, as_index_array, single_threaded
from albench.kernels.blocks import row_block
from albench.kernels.k_center_lazy import lazy_picks


def min_cosine_distance(
    features: torch.Tensor, rows: torch.Tensor, centres: torch.Tensor
) -> torch.Tensor:
    """``min_c (1 - x_r · x_c)`` for each row index in ``rows``; +inf when no centres.

    Computed in row blocks of one GEMM each (:mod:`albench.kernels.blocks`), so the
    temporary stays bounded.
    """
    out = torch.full((rows.numel(),), float("inf"), device=features.device)
    if centres.numel() == 0:
        return out
    centre_t = features[centres].T.contiguous()
    step = row_block(centres.numel())
    for start in range(0, rows.numel(), step):
        block = features[rows[start : start + step]]
        out[start : start + step] = 1.0 - (block @ centre_t).amax(dim=1)
    return out


def greedy_k_center(
    features: np.ndarray | torch.Tensor,
    centres: np.ndarray | torch.Tensor | None,
    budget: int,
    *,
    candidates: np.ndarray | torch.Tensor | None = None,
    rng: np.random.Generator | None = None,
    method: Literal["lazy", "plain"] = "lazy",
) -> np.ndarray:
    """Greedy k-center picks from ``candidates`` given initial ``centres``.

    ``features``: (N, d) L2-normalised rows (numpy float32 or torch tensor, CPU or CUDA).
    ``centres``: initial centre indices (the labelled set; may be empty).
    ``candidates``: eligible indices; default all rows not in ``centres``.
    ``rng``: draws the first pick uniformly when there are no centres (required then).
    Returns int64 indices into ``features`` in pick order, ``min(budget, len(candidates))``
    of them. Ties go to the lowest index.
    """
    x = as_float_tensor(features, "features")
    n = x.shape[0]
    centre_idx = as_index_array(centres, n, "centres")
    if candidates is None:
        mask = np.ones(n, dtype=bool)
        mask[centre_idx] = False
        cand = np.flatnonzero(mask)
    else:
        cand = as_index_array(candidates, n, "candidates")
    k = min(int(budget), cand.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    cand_t = torch.from_numpy(cand).to(x.device)
    first: list[int] = []
    if centre_idx.size == 0:
        if rng is None:
            raise ValueError("rng is required when there are no initial centres")
        first = [int(rng.integers(cand.size))]
        centre_idx = cand[first]
    dist = min_cosine_distance(x, cand_t, torch.from_numpy(centre_idx).to(x.device))
    if first:
        dist[first[0]] = -float("inf")
    pick_loop = {"lazy": lazy_picks, "plain": _plain_picks}[method]
    with single_threaded(x.device):
        positions = first + pick_loop(x, cand_t, dist, k - len(first))
    return cand[np.asarray(positions, dtype=np.int64)]


def _plain_picks(x: torch.Tensor, cand: torch.Tensor, dist: torch.Tensor, k: int) -> list[int]:
    """Exact greedy: after each pick, update every candidate's distance (one mat-vec).

    Reads the candidates' features once per pick: memory-bound, but few kernel launches,
    which suits GPUs.
    """
    pool = x[cand]
    picks: list[int] = []
    for _ in range(k):
        pos = int(torch.argmax(dist))
        picks.append(pos)
        torch.minimum(dist, 1.0 - pool @ pool[pos], out=dist)
        dist[pos] = -float("inf")
    return picks
