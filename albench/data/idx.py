"""Reader for the idx format of MNIST-style datasets (LeCun et al., "THE MNIST DATABASE").

An idx file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the data in row-major order. Fashion-MNIST
(Xiao et al. 2017) ships in this format, gzip-compressed.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import ClassVar

import numpy as np

from albench.data.source import Loaded, Source
from albench.data.splits import ArraySplit
from albench.errors import DataNotFoundError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an idx file (``.gz`` compressed or not), in native byte order."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataNotFoundError(f"{path} is not an idx file (bad magic number); re-fetch it")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    offset = 4 + 4 * ndim
    if len(raw) - offset != expected:
        raise DataNotFoundError(f"{path} is truncated ({len(raw) - offset} of {expected} bytes)")
    data = np.frombuffer(raw, dtype, offset=offset).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def find_idx(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or ``directory/stem.gz``, whichever exists (uncompressed first)."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


class IdxSource(Source):
    """MNIST-style idx files (``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``).

    ``dirs`` are searched in order; relative ones lie under the data root, so a user's copy
    wins over a system-wide one (e.g. Debian's ``/usr/share/datasets/fashion-mnist``).
    """

    kind = "idx"
    PREFIXES: ClassVar[dict[str, str]] = {"pool": "train", "test": "t10k"}

    @property
    def label(self) -> str:
        return "idx files"

    def _files(self, directory: Path) -> dict[str, Path] | None:
        files = {}
        for split, prefix in self.PREFIXES.items():
            for part in ("images-idx3", "labels-idx1"):
                found = find_idx(directory, f"{prefix}-{part}-ubyte")
                if found is None:
                    return None
                files[f"{split}_{part.split('-')[0]}"] = found
        return files

    def _found(self) -> dict[str, Path] | None:
        for directory in self.options["dirs"]:
            files = self._files(self.path(directory))
            if files is not None:
                return files
        return None

    def available(self) -> bool:
        return self._found() is not None

    def hint(self) -> str:
        where = self.path(self.options["dirs"][0])
        install = self.options.get("install")
        return (f"{install} or " if install else "") + f"put the idx files in {where}"

    def load(self, download: bool = False) -> Loaded:
        files = self._found()
        if files is None:
            raise DataNotFoundError(f"dataset {self.dataset!r}: {self.hint()}")
        splits = [
            ArraySplit(read_idx(files[f"{split}_images"]), read_idx(files[f"{split}_labels"]))
            for split in self.PREFIXES
        ]
        return Loaded(*splits)
