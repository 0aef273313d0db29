"""Sources that need no download: files embedded in albench, and scikit-learn's digits."""

from __future__ import annotations

import numpy as np

from albench.data.paths import datasets_dir
from albench.data.source import Loaded, Source
from albench.data.splits import ArraySplit
from albench.data.stratify import stratified_split


class EmbeddedSource(Source):
    """A compressed ``.npz`` in ``datasets/data`` with ``{pool,test}_{images,labels}``.

    Read with ``allow_pickle=False``; the images are uint8 arrays.
    """

    kind = "embedded"

    @property
    def file(self):
        return datasets_dir() / "data" / self.options["file"]

    @property
    def label(self) -> str:
        return "embedded"

    def available(self) -> bool:
        return self.file.is_file()

    def hint(self) -> str:
        return f"the embedded file {self.file} is missing: reinstall albench"

    def load(self, download: bool = False) -> Loaded:
        self.require_available()
        with np.load(self.file, allow_pickle=False) as arrays:
            pool = ArraySplit(arrays["pool_images"], arrays["pool_labels"])
            test = ArraySplit(arrays["test_images"], arrays["test_labels"])
        return Loaded(pool, test)


class DigitsSource(Source):
    """scikit-learn's copy of the UCI optical digits (8x8 images, values 0-16).

    Pixel values are scaled to 0-255 (``round(v * 255 / 16)``); the pool/test split is
    stratified with ``test_fraction`` (default 0.25) and ``numpy.random.default_rng(split_seed)``
    (default 0), see :mod:`albench.data.stratify`.
    """

    kind = "sklearn-digits"

    @property
    def label(self) -> str:
        return "scikit-learn"

    def available(self) -> bool:
        return True

    def hint(self) -> str:
        return "install scikit-learn"

    def load(self, download: bool = False) -> Loaded:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
        rng = np.random.default_rng(self.options.get("split_seed", 0))
        pool, test = stratified_split(digits.target, self.options.get("test_fraction", 0.25), rng)
        return Loaded(
            ArraySplit(images[pool], digits.target[pool]),
            ArraySplit(images[test], digits.target[test]),
        )
