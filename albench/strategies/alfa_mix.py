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
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import EMBED, LINEAR_HEAD, LinearHead
from albench.errors import InvalidSpecError
from albench.kernels.blocks import row_blocks
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.candidates import cluster_representatives
from albench.strategies.ranking import n_picks

#: keeps α finite where z* and z agree in a coordinate (the reference's constant)
DIFFERENCE_FLOOR = 1e-8


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
        embedding = ctx.get(EMBED)
        z = embedding[pool]
        labelled = np.asarray(embedding[ctx.labelled], dtype=np.float64)
        anchors = class_anchors(labelled, ctx.labelled_labels, ctx.n_classes)
        flips = mixing_candidates(z, ctx.get(LINEAR_HEAD), anchors, self.alpha_cap, k)
        picked = cluster_representatives(kernels.unit_rows(z), np.flatnonzero(flips), k, rng)
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
    """(n,) True where interpolating towards some anchor changes the prediction.

    Row blocks (:mod:`albench.kernels.blocks`) bound the float64 temporaries of one anchor's
    interpolation; every row's arithmetic is the whole matrix's.
    """
    weight = head.weight.astype(np.float64)
    flips = np.zeros(z.shape[0], dtype=bool)
    cap = 0.0
    while cap < 1.0:
        cap += alpha_cap
        epsilon = cap / np.sqrt(z.shape[1])
        for start, stop in row_blocks(z.shape[0], z.shape[1]):
            flips[start:stop] |= _flips(
                np.asarray(z[start:stop], dtype=np.float64), head, weight, anchors, epsilon
            )
        if flips.sum() > k:
            break
    return flips


def _flips(
    z: np.ndarray, head: LinearHead, weight: np.ndarray, anchors: np.ndarray, epsilon: float
) -> np.ndarray:
    """Rows of ``z`` whose prediction changes towards some anchor at this ``epsilon``."""
    predicted = head.predict(z)
    probabilities = head.probabilities(z)
    probabilities[np.arange(z.shape[0]), predicted] -= 1.0
    grad = probabilities @ weight
    grad_norm = np.linalg.norm(grad, axis=1, keepdims=True)
    flips = np.zeros(z.shape[0], dtype=bool)
    for anchor in anchors:
        difference = anchor - z
        scale = epsilon * np.linalg.norm(difference, axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(
                grad_norm > 0, scale / grad_norm * grad / (difference + DIFFERENCE_FLOOR), 0.0
            )
        flips |= head.predict((1.0 - alpha) * z + alpha * anchor) != predicted
    return flips
