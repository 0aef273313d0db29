"""Seeded stratified pool/test split, for sources that ship without an official split.

The test split takes ``ceil(n * test_fraction)`` items (scikit-learn's convention), shared
among classes in proportion to their sizes by the largest-remainder (Hamilton) method, ties
going to the lower class id; within each class the test items are the first ones of a
permutation drawn from ``rng``. Both index arrays come back in ascending order.
"""

from __future__ import annotations

import math

import numpy as np


def class_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``counts`` that sum to ``total`` (largest remainder)."""
    exact = counts * (total / counts.sum())
    quotas = np.floor(exact).astype(np.int64)
    remainder = total - int(quotas.sum())
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[:remainder]] += 1
    return quotas


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(pool indices, test indices) of a stratified split of ``labels``."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    if len(labels) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    quotas = class_quotas(counts, math.ceil(len(labels) * test_fraction))
    test = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quotas, strict=True)
    ]
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
