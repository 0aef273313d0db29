"""ALFA-Mix: samples whose prediction flips on the way to a labelled class anchor.

Parvaneh, Abbasnejad, Teney, Haffari, van den Hengel & Shi, "Active Learning by Feature
Mixing", CVPR 2022 (reference code ``AminParvaneh/alpha_mix_active_learning``,
``query_strategies/alpha_mix_sampling.py``). Each unlabelled embedding z is interpolated
towards every class anchor z* (the mean labelled embedding of that class; the mean of all
labelled embeddings for a class without labels), ``(1 - α) ⊙ z + α ⊙ z*``, with the
closed-form α of the paper's eq. 5,

    α = ε ||z* - z|| / ||∇_z ℓ|| · ∇_z ℓ / (z* - z),

where ∇_z ℓ is the gradient of the cross-entropy at the predicted label (for a linear last
layer, ``(p - onehot(ŷ)) @ W``). A sample whose prediction changes for some anchor is a
candidate. ε = cap / sqrt(h), with the cap raised by ``alpha_cap`` steps until there are more
candidates than the budget or the cap reaches 1. The budget is spread over the candidates by
k-means on their L2-normalised embeddings (:mod:`albench.strategies.candidates`).

How it is computed: with this α the mixed embedding is ``z + α ⊙ (z* - z) = z + t u``, a
step of length ``t = ε ||z* - z||`` along the unit gradient ``u = ∇_z ℓ / ||∇_z ℓ||``: every
anchor moves z in the same direction and only the length differs. The logits of a linear
last layer change linearly along it, so the prediction holds on an interval ``[0, t*]``
of lengths that one pass finds (the first length at which another class overtakes the
predicted one), and z flips towards some anchor at a cap exactly when its longest step,
``cap / sqrt(h) · max ||z* - z||``, passes t*. Every cap is then a comparison, and a
selection costs a few passes of the last layer over the pool instead of one per anchor and
cap (C x caps passes: hours at ImageNet's 1,000 classes and 1.28M images).

Differences from the reference: the reference divides by ``z* - z + 1e-8`` to keep α finite;
in a coordinate where z* and z agree exactly its step is then 0 instead of ``t u_j`` (the
product above, taken before dividing, has no such case), and elsewhere its step is off by
a relative 1e-8 / |z*_j - z_j|. The two can disagree only for a sample within that margin
of a flip.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from albench import kernels
from albench.arrays import host, is_tensor
from albench.capabilities import EMBED, LINEAR_HEAD, LinearHead
from albench.errors import InvalidSpecError
from albench.kernels.blocks import row_blocks
from albench.strategies.base import Selection, Strategy, StrategyContext, as_float64
from albench.strategies.candidates import cluster_representatives
from albench.strategies.ranking import n_picks


class AlfaMix(Strategy):
    """k-means representatives of the samples whose prediction flips towards an anchor."""

    name = "alfa-mix"
    category = "hybrid"
    reference = (
        "Parvaneh, Abbasnejad, Teney, Haffari, van den Hengel & Shi, Active Learning by "
        "Feature Mixing, CVPR 2022"
    )
    needs = frozenset({EMBED, LINEAR_HEAD})

    def __init__(self, *, alpha_cap: float = 0.2):
        if not 0 < alpha_cap <= 1:
            raise InvalidSpecError(f"alfa-mix alpha_cap must be in (0, 1], not {alpha_cap}")
        self.alpha_cap = float(alpha_cap)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        head = ctx.get(LINEAR_HEAD)
        width = max(ctx.features.shape[1], ctx.n_classes)
        if ctx.labelled.size:
            labelled = ctx.per_row(EMBED, ctx.labelled, width, as_float64, on_device=True)
            anchors = class_anchors(labelled, ctx.labelled_labels, ctx.n_classes)
        else:
            anchors = np.zeros((0, 0))  # no anchors: no candidates, a uniform batch

        def caps(z: Any) -> Any:
            return critical_caps(z, head, anchors)

        critical = ctx.per_row(EMBED, pool, width, caps, on_device=True)
        flips = flips_at_caps(critical, self.alpha_cap, k)
        candidates = np.flatnonzero(flips)
        # the candidates' embeddings come to the host for scikit-learn's k-means
        z = ctx.per_row(EMBED, pool[candidates], width, _unit_rows_on_host, on_device=True)
        picked = cluster_representatives(z, candidates, pool.size, k, rng)
        return Selection(indices=pool[picked], info={"candidates": int(flips.sum())})


def class_anchors(z: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, h) mean labelled embedding per class; the overall mean for an unlabelled class.

    No labelled sample at all: no anchors, (0, h).
    """
    if z.shape[0] == 0:
        return np.zeros((0, z.shape[1]))
    overall = z.mean(axis=0)
    return np.stack(
        [z[labels == c].mean(axis=0) if (labels == c).any() else overall for c in range(n_classes)]
    )


def mixing_candidates(
    z: np.ndarray, head: LinearHead, anchors: np.ndarray, alpha_cap: float, k: int
) -> np.ndarray:
    """(n,) True where interpolating towards some anchor changes the prediction."""
    return flips_at_caps(critical_caps(z, head, anchors), alpha_cap, k)


def flips_at_caps(critical: np.ndarray, alpha_cap: float, k: int) -> np.ndarray:
    """The rows flipped at the last cap of the paper's loop: the cap grows by ``alpha_cap``
    until more than ``k`` rows flip or it reaches 1 (``critical``: :func:`critical_caps`)."""
    cap = 0.0
    flips = np.zeros(critical.shape[0], dtype=bool)
    while cap < 1.0:
        cap += alpha_cap
        flips = critical < cap
        if flips.sum() > k:
            break
    return flips


def _unit_rows_on_host(z: Any) -> np.ndarray:
    return kernels.unit_rows(host(z))


def critical_caps(z: np.ndarray | Any, head: LinearHead, anchors: np.ndarray) -> np.ndarray | Any:
    """(n,) the cap above which each row's prediction flips towards its farthest anchor.

    inf where no step along the gradient changes the prediction (or there is no anchor). A
    torch tensor (a GPU run's embeddings) is computed on its device (:func:`_tensor_caps`).
    """
    if is_tensor(z):
        return _tensor_caps(z, head, anchors)
    out = np.full(z.shape[0], np.inf)
    if anchors.shape[0] == 0:
        return out
    weight = head.weight.astype(np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    anchor_norms = (anchors * anchors).sum(axis=1)
    width = max(weight.shape[0], anchors.shape[0], z.shape[1])
    for start, stop in row_blocks(z.shape[0], width):
        rows = np.asarray(z[start:stop], dtype=np.float64)
        farthest = np.sqrt(
            np.maximum(
                (rows * rows).sum(axis=1) + (anchor_norms - 2.0 * rows @ anchors.T).max(1), 0
            )
        )
        logits = head.logits(rows)
        grad = _loss_gradient(logits, weight)
        grad_norm = np.linalg.norm(grad, axis=1)
        length = _flip_length(logits, grad @ weight.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            cap = length * np.sqrt(z.shape[1]) * grad_norm / farthest
        out[start:stop] = np.where((grad_norm > 0) & (farthest > 0), cap, np.inf)
    return out


def _loss_gradient(logits: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """∇_z of the cross-entropy at the predicted label: ``(p - onehot(ŷ)) @ W``."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(p.shape[0]), np.argmax(logits, axis=1)] -= 1.0
    return p @ weight


def _flip_length(logits: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Smallest t > 0 at which ``logits + t * rate`` has another argmax (inf: none).

    With ``rate = W ∇`` this is the step along the gradient in units of ``||∇||``.
    """
    rows = np.arange(logits.shape[0])
    predicted = np.argmax(logits, axis=1)
    gap = logits[rows, predicted][:, None] - logits
    gain = rate - rate[rows, predicted][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(gain > 0, gap / gain, np.inf)
    return crossing.min(axis=1)


def _tensor_caps(z: Any, head: LinearHead, anchors: np.ndarray) -> Any:
    """:func:`critical_caps` in torch float64 on ``z``'s device: the same terms in the same
    order (its products round apart from numpy's in the last bits; the division by the
    gradient's rate can make that 1e-13 of a cap, far below the cap steps it is compared
    with)."""
    import torch  # only tensor inputs get here

    def there(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array, dtype=np.float64), device=z.device)

    out = torch.full((z.shape[0],), torch.inf, dtype=torch.float64, device=z.device)
    if anchors.shape[0] == 0:
        return out
    weight, bias, anchor_rows = there(head.weight), there(head.bias), there(anchors)
    anchor_norms = (anchor_rows * anchor_rows).sum(dim=1)
    width = max(weight.shape[0], anchor_rows.shape[0], z.shape[1])
    for start, stop in row_blocks(z.shape[0], width):
        rows = z[start:stop].to(torch.float64)
        spread = (anchor_norms - 2.0 * rows @ anchor_rows.T).amax(dim=1)
        farthest = ((rows * rows).sum(dim=1) + spread).clamp_min(0).sqrt()
        logits = rows @ weight.T + bias
        p = torch.softmax(logits, dim=1)
        p[torch.arange(p.shape[0], device=z.device), logits.argmax(dim=1)] -= 1.0
        grad = p @ weight
        grad_norm = torch.linalg.vector_norm(grad, dim=1)
        rate = grad @ weight.T
        predicted = logits.argmax(dim=1, keepdim=True)
        gap = logits.gather(1, predicted) - logits
        gain = rate - rate.gather(1, predicted)
        crossing = torch.where(gain > 0, gap / gain, torch.inf).amin(dim=1)
        cap = crossing * math.sqrt(z.shape[1]) * grad_norm / farthest
        valid = (grad_norm > 0) & (farthest > 0)
        out[start:stop] = torch.where(valid, cap, torch.inf)
    return out
