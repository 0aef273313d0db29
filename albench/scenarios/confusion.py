"""The zero-shot model's confusion between classes: the law of a confused annotator's
wrong labels (``noisy-oracle(kind="confusion")``).

Row i is the mean zero-shot probability CLIP's prompt classifier gives each other class on
pool images of class i, the diagonal set to zero and the row renormalised. It is measured
on images rather than on the class text embeddings alone because what an annotator
confuses is what looks alike (a shirt and a T-shirt), and the prompt classifier on images
measures exactly that for the model being adapted, whereas text similarity measures how
alike the class names are. Soft probabilities rather than counts of wrong argmax
predictions give every pair a positive weight, so no row is empty when the zero-shot model
never errs on a class. At most :data:`PER_CLASS` images per class (the first in pool order,
whatever the seed) are used, so the matrix costs little on a large pool and is the same
for every seed and strategy.
"""

from __future__ import annotations

import numpy as np

from albench.scenarios.base import World

#: images of each class the confusion is measured on, at most
PER_CLASS = 100


def zero_shot_confusion(labels: np.ndarray, classes: np.ndarray, world: World) -> np.ndarray:
    """(C, C) law of a wrong label given the true task label, C = ``len(classes)``.

    ``labels``: the task label of every pool sample (negative outside the task);
    ``classes``: the dataset classes of the task labels.
    """
    n = len(classes)
    confusion = np.full((n, n), 1.0)  # a class without images: uniform over the others
    for label in range(n):
        rows = np.flatnonzero(labels == label)[:PER_CLASS]
        if len(rows) and world.zero_shot is not None:
            confusion[label] = world.zero_shot(rows, classes).mean(axis=0)
    np.fill_diagonal(confusion, 0.0)
    return confusion / np.maximum(confusion.sum(axis=1, keepdims=True), np.finfo(float).tiny)


def draw_confused(labels: np.ndarray, law: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """For each sample, the label drawn from ``law[label]`` by inverse CDF of its
    ``uniform`` number in [0, 1); samples with a negative label keep it."""
    cdf = np.cumsum(law, axis=1)
    cdf[:, -1] = 1.0  # rounding never leaves a draw past the last class
    drawn = np.array(labels, dtype=np.int64)
    for label in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == label)
        drawn[rows] = np.searchsorted(cdf[label], uniform[rows], side="right")
    return drawn
