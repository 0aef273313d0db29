"""Training rows with several cached views per sample, and drawing one view per visit.

CoOp and PCB train on a fresh random-resized crop + flip of each image every epoch. On
cached features the surrogate is K views per pool image (:mod:`albench.augmentation`):
with ``views`` K > 1 the runner passes ``fit`` a :class:`FeatureViews` where it would pass
the labelled rows' feature array. Selection and evaluation never see it: they get the plain
features (view 0). A learner that does not draw views trains on view 0, as
``np.asarray(views)`` is the plain feature array.

:class:`ViewDraws` is how a learner trained by gradient steps uses the views: every time a
batch visits a sample, one of its K views is drawn uniformly, from a generator seeded by the
run's learner stream, so that each pass over the labelled set (an epoch) sees a fresh view of
every sample, as a data loader with on-the-fly augmentation would give. With one view
nothing is drawn and the rows are exactly the plain features.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from albench.kernels import unit_rows


class FeatureViews:
    """``features`` (n, d): view 0 of the rows (unit rows, as the runner gives them);
    ``augmented`` (N, K - 1, d): the augmented views of every pool image (a memory map);
    ``indices`` (n,): the rows' positions in ``augmented``.

    Indexing (integer arrays, boolean masks, slices) selects rows as it would on
    ``features``; augmented views are read from the map only when asked for.
    """

    def __init__(self, features: np.ndarray, augmented: np.ndarray, indices: np.ndarray):
        indices = np.asarray(indices, dtype=np.int64)
        if len(features) != len(indices):
            raise ValueError(f"{len(features)} feature rows but {len(indices)} view indices")
        self.features, self.augmented, self.indices = features, augmented, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, rows: Any) -> FeatureViews:
        return FeatureViews(self.features[rows], self.augmented, self.indices[rows])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.features, dtype=dtype)

    @property
    def n_views(self) -> int:
        return 1 + int(self.augmented.shape[1])

    def view(self, k: int) -> np.ndarray:
        """(n, d) view ``k`` of the rows: the plain features for 0, else unit rows (float32)
        of augmented view k."""
        if k == 0:
            return np.asarray(self.features)
        return unit_rows(self.augmented[self.indices, k - 1])

    def views(self) -> list[np.ndarray]:
        """Every view of the rows, view 0 first."""
        return [self.view(k) for k in range(self.n_views)]


def all_views(features: Any) -> list[Any]:
    """The views of ``features``: those of a :class:`FeatureViews`, else ``[features]``."""
    return features.views() if isinstance(features, FeatureViews) else [features]


class ViewDraws:
    """The training rows of a fit, one view per sample visit.

    ``prepare`` turns one view's rows into the learner's training tensor (normalised rows,
    or the raw float rows); views are prepared once, stacked (K, n, ...). ``generator``
    makes the generator that view choices come from; it is called only when there is more
    than one view, so a one-view fit consumes no randomness besides what it did before.
    """

    def __init__(
        self,
        features: Any,
        prepare: Callable[[Any], torch.Tensor],
        generator: Callable[[], torch.Generator],
    ):
        self.stacked = torch.stack([prepare(view) for view in all_views(features)])
        self.generator = generator() if len(self.stacked) > 1 else None

    def rows(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``index`` (all when None), each from a view drawn uniformly at random."""
        if self.generator is None:
            return self.stacked[0] if index is None else self.stacked[0][index]
        n = self.stacked.shape[1]
        index = torch.arange(n) if index is None else index.cpu()
        choice = torch.randint(len(self.stacked), (len(index),), generator=self.generator)
        device = self.stacked.device
        return self.stacked[choice.to(device), index.to(device)]
