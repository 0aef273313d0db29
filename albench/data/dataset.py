"""A loaded dataset: class names, prompt templates and its pool and test splits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from albench.data.splits import ImageSplit
from albench.errors import InvalidSpecError, UnknownNameError

SPLITS = ("pool", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """One line of ``albench datasets``; sizes are None when unknown without the data."""

    name: str
    n_classes: int
    pool_size: int | None
    test_size: int | None
    available: bool
    source: str


class Dataset:
    """Class names and templates for the text side, splits for the image side.

    ``pool`` is the active-learning pool (the dataset's train split); ``test`` is held out
    for evaluation. ``source`` records where the images came from (e.g. ``CoOp split``
    versus ``torchvision Flowers102``), since those may differ in content.
    """

    def __init__(
        self,
        name: str,
        class_names: tuple[str, ...],
        templates: tuple[str, ...],
        splits: Mapping[str, ImageSplit],
        *,
        source: str,
        coop_template: str = "a photo of a {}.",
    ):
        self.name = name
        self.class_names = tuple(class_names)
        self.templates = tuple(templates)
        self.coop_template = coop_template
        self.source = source
        self._splits = dict(splits)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def check_test_classes(self) -> None:
        """InvalidSpecError naming the classes that have no image in the test split.

        Such a class has no accuracy of its own, and balanced accuracy would silently
        average over fewer classes than the model predicts; runs refuse the dataset.
        """
        counts = np.bincount(self.split("test").labels, minlength=self.n_classes)
        empty = [self.class_names[k] for k in np.flatnonzero(counts == 0)]
        if empty:
            shown = ", ".join(repr(name) for name in empty[:5]) + (", ..." if empty[5:] else "")
            raise InvalidSpecError(
                f"dataset {self.name!r}: {len(empty)} class(es) have no test images: {shown}; "
                "add test images of each class or remove the class"
            )

    def split(self, which: str) -> ImageSplit:
        """The ``"pool"`` or ``"test"`` split."""
        if which not in self._splits:
            raise UnknownNameError("split", which, SPLITS)
        return self._splits[which]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self._splits.items())
        return f"Dataset({self.name!r}, {self.n_classes} classes, {sizes}, source={self.source!r})"
