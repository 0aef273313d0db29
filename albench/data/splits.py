"""Image splits: the items a backbone encodes, with labels and a content fingerprint.

Every split yields ``(PIL.Image in RGB, int label)`` and carries ``labels`` (int64) and
``fingerprint``, the sha256 of its content identity that keys the feature cache. Splits
hold arrays or relative paths only (no open files), so they pickle cheaply into DataLoader
workers; images are decoded on access.
"""

from __future__ import annotations

import hashlib
import operator
import os
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch.utils.data
from PIL import Image

from albench.errors import DataNotFoundError


class ImageSplit(torch.utils.data.Dataset):
    """One split (pool or test) of a dataset: labelled RGB images, indexed from 0."""

    labels: np.ndarray

    def __init__(self, labels: np.ndarray):
        self.labels = np.asarray(labels, dtype=np.int64).view()  # a view: the caller's
        self.labels.setflags(write=False)  # array stays writeable, this one cannot change
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        index = operator.index(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index out of range for a split of {len(self)} images")
        return self._rgb_image(index), int(self.labels[index])

    @property
    def fingerprint(self) -> str:
        """sha256 hex of the split's content identity (computed once, on first use)."""
        if self._fingerprint is None:
            self._fingerprint = self._digest()
        return self._fingerprint

    @abstractmethod
    def _rgb_image(self, index: int) -> Image.Image:
        """The image at ``index``, decoded and converted to RGB."""

    @abstractmethod
    def _digest(self) -> str:
        """The fingerprint, computed from content."""


class ArraySplit(ImageSplit):
    """Images held in memory as a uint8 array of shape (n, h, w) or (n, h, w, 3).

    The fingerprint hashes the array's shape and bytes and the labels, so equal content
    gives equal fingerprints whatever the source (embedded file, idx files, torchvision).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        images = np.ascontiguousarray(images)
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
            raise ValueError(
                f"ArraySplit needs uint8 (n, h, w[, 3]) images and n labels, got "
                f"{images.dtype} {images.shape} and {len(labels)} labels"
            )
        super().__init__(labels)
        self.images = images.view()
        self.images.setflags(write=False)

    def _rgb_image(self, index: int) -> Image.Image:
        return Image.fromarray(self.images[index]).convert("RGB")

    def _digest(self) -> str:
        digest = hashlib.sha256(b"albench.ArraySplit/1\n")
        digest.update(repr(self.images.shape).encode())
        digest.update(self.images.data)
        digest.update(self.labels.astype("<i8").tobytes())
        return digest.hexdigest()


class FileSplit(ImageSplit):
    """Images stored as files under ``root``, named by paths relative to it.

    The fingerprint hashes, in split order (the order features are stored in), every
    relative path with its label and file size: cheap (one ``stat`` per file), stable across
    machines and data roots, and changed by any added, removed, relabelled or replaced file.
    """

    def __init__(self, root: str | os.PathLike, files: Sequence[str], labels: np.ndarray):
        if len(files) != len(labels):
            raise ValueError(f"{len(files)} files but {len(labels)} labels")
        super().__init__(labels)
        self.root = str(root)
        self.files = tuple(str(name) for name in files)

    def path(self, index: int) -> Path:
        return Path(self.root, self.files[index])

    def _rgb_image(self, index: int) -> Image.Image:
        with Image.open(self.path(index)) as image:
            return image.convert("RGB")

    def _digest(self) -> str:
        digest = hashlib.sha256(b"albench.FileSplit/1\n")
        for index, (name, label) in enumerate(zip(self.files, self.labels, strict=True)):
            try:
                size = os.stat(self.path(index)).st_size
            except FileNotFoundError:
                raise DataNotFoundError(f"image file missing: {self.path(index)}") from None
            digest.update(f"{name}\t{label}\t{size}\n".encode())
        return digest.hexdigest()
