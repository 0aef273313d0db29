"""Rows of an image split as a learner that trains on pixels sees them.

Most learners work on cached features alone. A learner that runs the image encoder itself
(visual prompt tuning) declares ``needs_images``; the runner then passes :class:`ImageRows`
where it would pass a feature array: the same rows, with their cached features and the
images behind them. Rows are positions in one split (the pool subsample's pool indices, or
the test split), so row r of the features and image r are the same sample. The images come
without their labels: a learner gets labels only through ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from PIL import Image

from albench.errors import InvalidSpecError

Transform = Callable[[Image.Image], torch.Tensor]


class ImageRows:
    """``features`` (N, d): the cached features of the rows; ``split``: the image split they
    come from (an :class:`~albench.data.ImageSplit`); ``indices`` (N,): positions in it.

    Indexing (integer arrays, boolean masks, slices) selects rows as it would on
    ``features``; images are decoded and preprocessed only when asked for.
    """

    def __init__(self, features: np.ndarray, split: Any, indices: np.ndarray):
        indices = np.asarray(indices, dtype=np.int64)
        if len(features) != len(indices):
            raise ValueError(f"{len(features)} feature rows but {len(indices)} image indices")
        if len(indices) and not 0 <= int(indices.min()) <= int(indices.max()) < len(split):
            raise ValueError(f"image indices outside a split of {len(split)} images")
        self.features = features
        self.indices = indices
        self._split = split

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, rows: Any) -> ImageRows:
        return ImageRows(self.features[rows], self._split, self.indices[rows])

    def image(self, row: int) -> Image.Image:
        """The RGB image of row ``row``."""
        return self._split[int(self.indices[row])][0]

    def pixels(self, transform: Transform, start: int = 0, stop: int | None = None):
        """(n, 3, H, W) preprocessed images of rows ``start:stop``."""
        stop = len(self) if stop is None else min(stop, len(self))
        return torch.stack([transform(self.image(row)) for row in range(start, stop)])

    def batches(self, transform: Transform, size: int) -> Iterator[torch.Tensor]:
        """Preprocessed images of all rows, ``size`` at a time, in row order."""
        for start in range(0, len(self), size):
            yield self.pixels(transform, start, start + size)


def split_rows(
    images: Callable[[str], Any],
    which: str,
    n_cached: int,
    features: np.ndarray,
    indices: np.ndarray,
) -> ImageRows:
    """Rows ``indices`` of split ``which`` (``images(which)``) paired with their ``features``;
    refuses a split whose size is not ``n_cached``, the number of feature rows cached for it."""
    split = images(which)
    if len(split) != n_cached:
        raise InvalidSpecError(
            f"the {which} split holds {len(split)} images but {n_cached} cached feature rows; "
            "the data changed since its features were extracted"
        )
    return ImageRows(features, split, indices)
