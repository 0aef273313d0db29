"""The per-round quantities stopping rules read (:mod:`albench.stopping`), measured in a run.

Only what a user would have is measured: the current model's predictions on pool samples,
never a test label. Two numbers per round are stored, so results stay small whatever the
pool size:

- ``stop_kappa``: Cohen's kappa between this round's and the previous round's predictions on
  the *stop set*, a fixed sample of :data:`STOP_SET_SIZE` pool images drawn once per run
  from the pool left unlabelled by the initial set (Bloodgood & Vijay-Shanker, CoNLL 2009;
  like their stop set, it stays fixed even when some of its samples are labelled later);
- ``max_uncertainty``: the largest prediction entropy over the samples still unlabelled
  (Zhu, Wang & Hovy, IJCNLP 2008), computed in row blocks of bounded memory.

The stop set is drawn from its own named stream of (dataset, seed, pool), so every strategy
of a sweep shares it, and measuring draws nothing from the streams a run selects with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from albench.arrays import host
from albench.kernels.blocks import row_blocks
from albench.stopping import agreement, max_entropy

#: stop-set size: the size Bloodgood & Vijay-Shanker (CoNLL 2009) used (or the whole
#: unlabelled pool when it is smaller)
STOP_SET_SIZE = 2000


class StopSignals:
    """Measures ``stop_kappa`` and ``max_uncertainty`` of each round's model."""

    def __init__(
        self, unlabelled: np.ndarray, n_pool: int, n_classes: int, rng: np.random.Generator
    ):
        size = min(STOP_SET_SIZE, len(unlabelled))
        self.stop_set = np.sort(rng.choice(unlabelled, size=size, replace=False))
        self.n_pool, self.n_classes = n_pool, n_classes
        self.previous: np.ndarray | None = None

    def measure(
        self, probabilities_of: Callable[[np.ndarray], Any], labelled: np.ndarray
    ) -> dict[str, float]:
        """This round's signals from ``probabilities_of(pool rows)``, the current model's
        probabilities on those rows: numpy, or on a GPU run a tensor there, whose entropies
        are then taken there too (only one number per block comes to the host)."""
        predicted = host(probabilities_of(self.stop_set).argmax(1))
        kappa = float("nan")
        if self.previous is not None:
            kappa = agreement(self.previous, predicted, self.n_classes)
        self.previous = predicted
        unlabelled = np.setdiff1d(np.arange(self.n_pool), labelled)
        largest = float("nan")
        for start, stop in row_blocks(len(unlabelled), self.n_classes):
            block = max_entropy(probabilities_of(unlabelled[start:stop]))
            largest = block if np.isnan(largest) else max(largest, block)
        return {"stop_kappa": kappa, "max_uncertainty": largest}
