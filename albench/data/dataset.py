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
    """One line of ``albench datasets``: the sizes the spec expects (None when unknown without
    the data), the sizes of the copy found on disk (None when there is none), and the one-line
    problem when a copy is there but does not load."""

    name: str
    n_classes: int
    pool_size: int | None
    test_size: int | None
    available: bool
    source: str
    pool_found: int | None = None
    test_found: int | None = None
    problem: str = ""


class Dataset:
    """Class names and templates for the text side, splits for the image side.

    ``pool`` is the active-learning pool (the dataset's train split); ``test`` is held out
    for evaluation. ``source`` records where the images came from (e.g. ``CoOp split``
    versus ``torchvision Flowers102``), since those may differ in content.
    ``expected_sizes`` are the (pool, test) sizes the spec states for that source (None
    where unknown); ``notes`` record what was done to the data as found (a split built from
    annotations, a partial copy accepted, unreadable files left out) and ``left_out`` the
    files left out, so results can say which data they were computed on.
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
        expected_sizes: tuple[int | None, int | None] = (None, None),
        notes: tuple[str, ...] = (),
        left_out: tuple[str, ...] = (),
    ):
        self.name = name
        self.class_names = tuple(class_names)
        self.templates = tuple(templates)
        self.coop_template = coop_template
        self.source = source
        self.expected_sizes = expected_sizes
        self.notes = tuple(notes)
        self.left_out = tuple(left_out)
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

    def subset(
        self, keep: Mapping[str, np.ndarray], *, note: str, left_out: tuple[str, ...] = ()
    ) -> Dataset:
        """A copy holding items ``keep[split]`` of each split, with ``note`` recorded."""
        return Dataset(
            self.name,
            self.class_names,
            self.templates,
            {which: split.subset(keep[which]) for which, split in self._splits.items()},
            source=self.source,
            coop_template=self.coop_template,
            expected_sizes=self.expected_sizes,
            notes=(*self.notes, note),
            left_out=(*self.left_out, *left_out),
        )

    def split(self, which: str) -> ImageSplit:
        """The ``"pool"`` or ``"test"`` split."""
        if which not in self._splits:
            raise UnknownNameError("split", which, SPLITS)
        return self._splits[which]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self._splits.items())
        return f"Dataset({self.name!r}, {self.n_classes} classes, {sizes}, source={self.source!r})"
