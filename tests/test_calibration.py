"""Expected calibration error against a direct, loop-by-loop computation (Guo et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest

from albench.calibration import expected_calibration_error


def _direct_ece(probabilities: np.ndarray, labels: np.ndarray, bins: int) -> float:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    total = 0.0
    edges = np.linspace(0, 1, bins + 1)
    for b in range(bins):
        low, high = edges[b], edges[b + 1]
        inside = (confidence > low) & (confidence <= high)
        if b == 0:
            inside |= confidence == 0
        if inside.any():
            gap = correct[inside].mean() - confidence[inside].mean()
            total += inside.sum() / len(labels) * abs(gap)
    return total


def test_ece_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 6)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 6, 500)
    expected = _direct_ece(probabilities, labels, 15)
    assert expected > 0.05
    assert expected_calibration_error(probabilities, labels) == pytest.approx(expected)


def test_ece_hand_example_and_bin_edges():
    # confidences 0.6 (right), 0.6 (wrong), 1.0 (right): bin (8/15, 9/15] has accuracy 0.5 at
    # confidence 0.6, gap 0.1 for 2 of 3 samples; the top bin is exact
    probabilities = np.array([[0.6, 0.4], [0.6, 0.4], [1.0, 0.0]])
    labels = np.array([0, 1, 0])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(2 / 3 * 0.1)
    # a confidence on a bin edge (8/15) belongs to the bin below it, apart from 0.55
    edge = np.linspace(0, 1, 16)[8]
    split = np.array([[edge, 1 - edge], [0.55, 0.45]])
    assert expected_calibration_error(split, np.array([0, 1])) == pytest.approx(
        ((1 - edge) + 0.55) / 2
    )


def test_ece_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        expected_calibration_error(np.ones((3, 2)) / 2, np.zeros(2))
