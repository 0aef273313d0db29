"""Least confidence: lowest top-1 probability (Lewis & Gale, SIGIR 1994)."""

from __future__ import annotations

import numpy as np

from albench.strategies.scored import ScoredStrategy, as_tensor


class LeastConfidence(ScoredStrategy):
    """Queries the samples whose most probable class has the lowest probability."""

    name = "least-confidence"
    reference = "Lewis & Gale, A Sequential Algorithm for Training Text Classifiers, SIGIR 1994"

    scores_tensors = True

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        return 1.0 - as_tensor(probabilities).amax(1).double().cpu().numpy()
