"""BADGE k-means++ seeding over factorised gradient embeddings (Ash et al., ICLR 2020).

BADGE's gradient embedding of sample i is the outer product ``g_i = a_i ⊗ x_i`` of a class
scale ``a_i`` (C,) and a feature ``x_i`` (h,). Squared distances factorise,

    ||g_i - g_j||^2 = |a_i|^2 |x_i|^2 + |a_j|^2 |x_j|^2 - 2 (a_i·a_j)(x_i·x_j),

so k-means++ (Arthur & Vassilvitskii, SODA 2007) runs on the factors and never materialises
the N x (C*h) embedding matrix.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from albench.kernels._tensor import as_float_tensor, row_sq_norms
from albench.kernels.kmeanspp_rejection import rejection_picks

#: picks between two folds of the pending centres into all weights (rejection sampler)
FOLD_EVERY = 256


def gradient_embedding_sq_dists(
    scale: np.ndarray | torch.Tensor,
    x: np.ndarray | torch.Tensor,
    centre: int,
) -> torch.Tensor:
    """``||g_i - g_centre||^2`` for every row i, from the factors (clamped at 0)."""
    a = as_float_tensor(scale, "scale")
    f = as_float_tensor(x, "x")
    sq = row_sq_norms(a) * row_sq_norms(f)
    return _sq_dists_to(a, f, sq, centre)


def _sq_dists_to(a: torch.Tensor, f: torch.Tensor, sq: torch.Tensor, centre: int) -> torch.Tensor:
    cross = (a @ a[centre]) * (f @ f[centre])
    return (sq + sq[centre] - 2.0 * cross).clamp_(min=0.0)


def _check_inputs(a: torch.Tensor, f: torch.Tensor) -> None:
    if a.shape[0] != f.shape[0]:
        raise ValueError(f"scale and x must have the same rows, got {a.shape[0]} and {f.shape[0]}")


def kmeanspp_select(
    scale: np.ndarray | torch.Tensor,
    x: np.ndarray | torch.Tensor,
    budget: int,
    rng: np.random.Generator,
    *,
    draws: Literal["rejection", "inverse-cdf"] = "rejection",
    fold_every: int = FOLD_EVERY,
) -> np.ndarray:
    """k-means++ seeding over ``g_i = scale_i ⊗ x_i``; row positions in pick order.

    The first pick is the largest gradient norm (ties: lowest index); each later pick is
    drawn with probability proportional to its squared distance to the nearest chosen
    centre. Chosen rows have weight 0; when every remaining weight is 0 the pick is uniform
    over the unchosen rows.

    ``draws="rejection"`` (default) samples that law by rejection from stale weights
    (:mod:`albench.kernels.kmeanspp_rejection`), folding pending centres every
    ``fold_every`` picks. ``draws="inverse-cdf"`` updates every weight after each pick and
    consumes exactly one ``rng.random()`` per pick (inverse CDF), so a reference fed the
    same uniforms selects the same rows.
    """
    a = as_float_tensor(scale, "scale")
    f = as_float_tensor(x, "x")
    _check_inputs(a, f)
    n = a.shape[0]
    k = min(int(budget), n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    sq = row_sq_norms(a) * row_sq_norms(f)
    first = int(torch.argmax(sq))
    if draws == "rejection":
        return np.asarray(rejection_picks(a, f, sq, first, k, rng, fold_every), dtype=np.int64)
    return _inverse_cdf_picks(a, f, sq, first, k, rng)


def _inverse_cdf_picks(
    a: torch.Tensor, f: torch.Tensor, sq: torch.Tensor, first: int, k: int, rng
) -> np.ndarray:
    """Plain k-means++: one pass over the factors per pick, one uniform per draw."""
    n = a.shape[0]
    chosen = np.zeros(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    pick = first
    d2 = torch.full((n,), float("inf"), device=a.device)
    for step in range(k):
        if step > 0:
            pick = _draw(d2, chosen, float(rng.random()))
        picks[step] = pick
        chosen[pick] = True
        if step + 1 < k:
            d2 = torch.minimum(d2, _sq_dists_to(a, f, sq, pick))
            d2[pick] = 0.0
    return picks


def _draw(d2: torch.Tensor, chosen: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from ``d2`` with the uniform ``u`` (uniform over unchosen if all 0)."""
    cumulative = torch.cumsum(d2, 0, dtype=torch.float64)
    total = float(cumulative[-1])
    if total <= 0.0:
        free = np.flatnonzero(~chosen)
        return int(free[min(int(u * free.size), free.size - 1)])
    target = torch.tensor([u * total], dtype=torch.float64, device=d2.device)
    pos = int(torch.searchsorted(cumulative, target, right=True))
    if pos >= d2.numel():  # u * total rounded up to the total
        pos = int(torch.nonzero(d2).max())
    return pos
