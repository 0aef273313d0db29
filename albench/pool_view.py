"""The pool as strategies see it: every row but the queries that yielded no label.

Under an open-set scenario (:mod:`albench.scenarios.open_set`) a query may hit an image
outside the task: it costs budget, gets no label, and must never be offered again. Taking
such rows out of the strategies' view (rather than marking them labelled) keeps the
strategy contract as it is: every labelled row has a class, every other row may be
picked. Without such rows the view is the pool itself, so runs without them compute
exactly what they did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PoolView:
    """Pool rows visible to strategies (``rows``, sorted), or the whole pool (None)."""

    rows: np.ndarray | None = None

    @classmethod
    def without(cls, hidden: np.ndarray, n_pool: int) -> PoolView:
        """The pool of ``n_pool`` rows without the ``hidden`` ones."""
        if len(hidden) == 0:
            return cls()
        return cls(np.setdiff1d(np.arange(n_pool, dtype=np.int64), hidden))

    def of(self, pool: Any) -> Any:
        """The visible rows of ``pool`` (features, ImageRows): row r of the view first."""
        return pool if self.rows is None else pool[self.rows]

    def local(self, indices: np.ndarray) -> np.ndarray:
        """Pool indices of visible rows -> their indices in the view."""
        return indices if self.rows is None else np.searchsorted(self.rows, indices)

    def pool(self, local: np.ndarray) -> np.ndarray:
        """Indices in the view -> pool indices."""
        return local if self.rows is None else self.rows[local]
