"""Maximum predictive entropy (Shannon, 1948; as an AL baseline: Settles, 2009, sec. 3.1)."""

from __future__ import annotations

import numpy as np

from albench.strategies.scored import ScoredStrategy


class Entropy(ScoredStrategy):
    """Queries the samples whose predicted class distribution has the highest entropy."""

    name = "entropy"
    reference = "Settles, Active Learning Literature Survey, 2009 (sec. 3.1, entropy sampling)"

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        from scipy.special import entr  # here, so that listing strategies stays instant

        return entr(probabilities.astype(np.float64)).sum(axis=1)
