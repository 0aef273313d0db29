"""Calibration of a learner's predicted probabilities: expected calibration error.

Active-learning strategies that rank by uncertainty trust the learner's probabilities, so how
well those probabilities match accuracy is part of what a benchmark should show.
"""

from __future__ import annotations

import numpy as np

#: Equal-width confidence bins, as in Guo et al. (ICML 2017, "On Calibration of Modern Neural
#: Networks", sec. 2) and most CLIP calibration studies since.
BINS = 15


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS
) -> float:
    """ECE: the mean over samples of |accuracy - confidence| within equal-width bins.

    ``probabilities`` is n x C; a sample's confidence is its largest probability and its
    prediction the argmax. Bin b holds confidences in ((b - 1) / bins, b / bins] (the first bin
    also holds 0), and ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)| (Guo et al. 2017, eq. 3).
    """
    probabilities = np.asarray(probabilities, dtype=float)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels) or len(labels) == 0:
        raise ValueError("probabilities must be n x C and labels n, with n > 0")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    gap = np.bincount(which, weights=correct - confidence, minlength=bins)
    return float(np.abs(gap).sum() / len(labels))
