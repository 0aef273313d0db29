"""Test metrics beside accuracy that the runner records each round."""

from __future__ import annotations

import numpy as np


def worst_class_accuracy(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """The lowest per-class accuracy (recall) over the classes the test split holds.

    On a long-tailed pool the rare classes are the ones a learner gives up first; the mean
    accuracy on a balanced test split hides that, its worst class does not.
    """
    truth = np.asarray(truth, dtype=np.int64)
    support = np.bincount(truth, minlength=n_classes)
    hits = np.bincount(truth[np.asarray(predicted) == truth], minlength=n_classes)
    present = support > 0
    return float((hits[present] / support[present]).min())
