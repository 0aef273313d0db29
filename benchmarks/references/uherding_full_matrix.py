"""Reference (e): Uncertainty Herding as its reference code runs it, on a full kernel matrix.

The steps of ``UHerding`` in github.com/BorealisAI/uherding (``deep-al/pycls/al/uherding.py``)
in plain numpy: temperature from the grid 1.0..19.9 by a per-bin ECE loop on the labelled
rows, margin uncertainty of the scaled probabilities (0 on labelled rows), the bandwidth
from the labelled pairwise-distance matrix, then the N x N Gaussian kernel matrix, rescanned
in full at every greedy step.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.distance import cdist


def _scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logits = np.log(probabilities.astype(np.float64)) / temperature
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ece(probabilities: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    confidence, predicted = probabilities.max(axis=1), probabilities.argmax(axis=1)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lower, upper in itertools.pairwise(edges):
        inside = (confidence > lower) & (confidence <= upper)
        if inside.any():
            gap = confidence[inside].mean() - (predicted[inside] == labels[inside]).mean()
            ece += abs(gap) * inside.mean()
    return ece


def uherding_full_matrix(
    features: np.ndarray,
    probabilities: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    budget: int,
) -> np.ndarray:
    """Greedy picks (margin, calibrated temperature, adaptive bandwidth) in pick order."""
    n_classes = probabilities.shape[1]
    best_t, best_ece = 1.0, np.inf
    for t in np.arange(1.0, 20, 0.1):
        ece = _ece(_scaled(probabilities[labelled], t), labels, n_classes)
        if ece < best_ece:
            best_t, best_ece = t, ece
    top = np.sort(_scaled(probabilities, best_t), axis=1)
    u = (1.0 - (top[:, -1] - top[:, -2])).astype(np.float32)
    u[labelled] = 0.0
    d = cdist(features[labelled], features[labelled])
    d = d[np.tril_indices(len(labelled), -1)]
    h = d[d > 1e-6].min() if (d > 1e-6).any() else 1.0
    sq = (features * features).sum(axis=1)
    kernel = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2 * features @ features.T, 0) / h**2)
    best = kernel[labelled].max(axis=0)
    taken = np.zeros(len(features), dtype=bool)
    taken[labelled] = True
    picks = []
    for _ in range(budget):
        gain = (u[None, :] * np.maximum(kernel - best[None, :], 0)).mean(axis=1)
        gain[taken] = -np.inf
        pick = int(np.argmax(gain))
        picks.append(pick)
        taken[pick] = True
        best = np.maximum(best, kernel[pick])
    return np.asarray(picks, dtype=np.int64)
