"""Reproducible ranking: the one tie-breaking rule every built-in strategy uses.

Rule: higher score first; equal scores keep pool order (the lower position among the
candidates first, a stable sort); NaN scores rank last. The same inputs therefore always
give the same selection, whatever the platform's sort.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, best first, ties to the lower position."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    return order[: max(int(k), 0)]


def n_picks(budget: int, n_unlabelled: int) -> int:
    """How many samples a strategy returns: ``min(budget, |unlabelled|)``."""
    if int(budget) != budget or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}")
    return min(int(budget), int(n_unlabelled))
