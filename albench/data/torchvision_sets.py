"""Datasets that torchvision knows how to read (and, for some, to download).

A spec entry names the ``torchvision.datasets`` class, the constructor options of the pool
and test splits, and a ``marker`` path whose existence under the data root shows the data
is there (so availability is checked without reading it). The loaded torchvision object is
turned into an :class:`ArraySplit` or a :class:`FileSplit` at once, so albench keeps only
arrays or relative paths and its fingerprints do not depend on the loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from albench.data.source import Loaded, Source
from albench.data.splits import ArraySplit, FileSplit, ImageSplit
from albench.errors import DataNotFoundError

Extracted = tuple[list, list]


def _arrays(dataset: Any) -> Extracted:
    return np.asarray(dataset.data), np.asarray(dataset.targets)


def _attributes(files: str, labels: str) -> Callable[[Any], Extracted]:
    return lambda dataset: (getattr(dataset, files), getattr(dataset, labels))


def _samples(attribute: str) -> Callable[[Any], Extracted]:
    def extract(dataset: Any) -> Extracted:
        pairs = getattr(dataset, attribute)
        return [path for path, _ in pairs], [label for _, label in pairs]

    return extract


#: how the images and labels of each supported class are read (file lists are private
#: attributes in torchvision 0.16-0.29; a class missing here is not supported)
ARRAY_CLASSES: dict[str, Callable[[Any], Extracted]] = {
    "CIFAR10": _arrays,
    "CIFAR100": _arrays,
    "FashionMNIST": _arrays,
    "MNIST": _arrays,
}
FILE_CLASSES: dict[str, Callable[[Any], Extracted]] = {
    "OxfordIIITPet": _attributes("_images", "_labels"),
    "Flowers102": _attributes("_image_files", "_labels"),
    "Food101": _attributes("_image_files", "_labels"),
    "FGVCAircraft": _attributes("_image_files", "_labels"),
    "DTD": _attributes("_image_files", "_labels"),
    "StanfordCars": _samples("_samples"),
    "ImageNet": _samples("samples"),
}


def to_split(class_name: str, dataset: Any, root: Path) -> ImageSplit:
    """An albench split with the images and labels of a torchvision dataset object."""
    if class_name in ARRAY_CLASSES:
        images, labels = ARRAY_CLASSES[class_name](dataset)
        return ArraySplit(np.asarray(images, dtype=np.uint8), np.asarray(labels))
    files, labels = FILE_CLASSES[class_name](dataset)
    relative = [os.path.relpath(path, root) for path in files]
    return FileSplit(root, relative, np.asarray(labels))


class TorchvisionSource(Source):
    """``torchvision.datasets.<class>(root, **pool/test options)``; downloads only if asked."""

    kind = "torchvision"

    @property
    def class_name(self) -> str:
        return self.options["class"]

    @property
    def root(self) -> Path:
        return self.path(self.options.get("root", "."))

    @property
    def label(self) -> str:
        return f"torchvision {self.class_name}"

    def downloadable(self) -> bool:
        return bool(self.options.get("download", True))

    def available(self) -> bool:
        return (self.root / self.options["marker"]).exists()

    def hint(self) -> str:
        how = "--download fetches it" if self.downloadable() else "fetched by hand"
        return f"torchvision layout: {self.root / self.options['marker']} ({self.label}; {how})"

    def _construct(self, options: dict[str, Any], download: bool) -> Any:
        import torchvision.datasets

        cls = getattr(torchvision.datasets, self.class_name)
        extra = {"download": download} if self.downloadable() else {}
        try:
            return cls(str(self.root), **options, **extra)
        except RuntimeError as error:  # torchvision's "Dataset not found or corrupted. ..."
            reason = str(error).split(".")[0]  # the rest tells Python users download=True
            raise DataNotFoundError(f"dataset {self.dataset!r}: {reason}; {self.hint()}") from None

    def load(self, download: bool = False) -> Loaded:
        if not (download and self.downloadable()) and not self.available():
            raise DataNotFoundError(f"dataset {self.dataset!r}: {self.hint()}")
        objects = [self._construct(self.options[s], download) for s in ("pool", "test")]
        splits = [to_split(self.class_name, obj, self.root) for obj in objects]
        names = getattr(objects[0], "classes", None)
        return Loaded(*splits, class_names=tuple(names) if names else None)
