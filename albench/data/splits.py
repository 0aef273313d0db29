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

#: what PIL raises for a file it cannot decode: missing, empty, truncated, not an image,
#: a broken chunk (SyntaxError), or a decompression bomb
UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def unreadable_reason(error: BaseException, location: str) -> str:
    """PIL's reason for not decoding the image at ``location``, without the path it repeats."""
    reason = str(error).replace(f" {location!r}", "").strip()
    return reason or type(error).__name__


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

    def location(self, index: int) -> str:
        """Where item ``index`` comes from, for messages (a file path, else its index)."""
        return f"item {index}"

    def missing(self) -> np.ndarray:
        """Indices of items whose file is absent (none for in-memory splits)."""
        return np.array([], dtype=np.int64)

    @abstractmethod
    def subset(self, keep: np.ndarray) -> ImageSplit:
        """The split of items ``keep`` (ascending indices), in that order."""

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

    def subset(self, keep: np.ndarray) -> ArraySplit:
        return ArraySplit(self.images[keep], self.labels[keep])

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
    relative path with its label and file size: cheap (one ``stat`` per file, shared with
    :meth:`missing`), stable across machines and data roots, and changed by any added,
    removed, relabelled or replaced file.
    """

    def __init__(self, root: str | os.PathLike, files: Sequence[str], labels: np.ndarray):
        if len(files) != len(labels):
            raise ValueError(f"{len(files)} files but {len(labels)} labels")
        super().__init__(labels)
        self.root = str(root)
        self.files = tuple(str(name) for name in files)
        self._sizes: np.ndarray | None = None

    def path(self, index: int) -> Path:
        return Path(self.root, self.files[index])

    def location(self, index: int) -> str:
        return str(self.path(index))

    def sizes(self) -> np.ndarray:
        """Byte size of every file, -1 where it is missing (one ``stat`` each, once)."""
        if self._sizes is None:
            sizes = np.empty(len(self.files), dtype=np.int64)
            for index in range(len(self.files)):
                try:
                    sizes[index] = os.stat(self.path(index)).st_size
                except FileNotFoundError:
                    sizes[index] = -1
            self._sizes = sizes
        return self._sizes

    def missing(self) -> np.ndarray:
        return np.flatnonzero(self.sizes() < 0)

    def subset(self, keep: np.ndarray) -> FileSplit:
        return FileSplit(self.root, [self.files[i] for i in keep], self.labels[keep])

    def _rgb_image(self, index: int) -> Image.Image:
        with Image.open(self.path(index)) as image:
            return image.convert("RGB")

    def _digest(self) -> str:
        sizes = self.sizes()
        if (sizes < 0).any():
            first = self.path(int(np.flatnonzero(sizes < 0)[0]))
            raise DataNotFoundError(f"image file missing: {first}")
        digest = hashlib.sha256(b"albench.FileSplit/1\n")
        for name, label, size in zip(self.files, self.labels, sizes, strict=True):
            digest.update(f"{name}\t{label}\t{size}\n".encode())
        return digest.hexdigest()
