"""``hf:PATH``: a dataset saved with Hugging Face ``datasets`` (Lhoest et al., EMNLP 2021 demos).

PATH is a folder written by ``save_to_disk`` (a ``DatasetDict`` of splits, or one
``Dataset``) or Parquet files as the hub stores them (``<split>-00000-of-00001.parquet``,
possibly under ``data/``), or one Parquet file. The image column is the first ``Image``
feature and the label column the first ``ClassLabel`` (whose names are the class names),
unless options name them: ``hf:PATH(image=img, label=fine_label, pool=train, test=test)``
in albench's ``name(key=value, ...)`` grammar. The pool is split ``train`` and the test set
split ``test``; a dataset with one split is split stratified like ``imagefolder:``.

Splits hold the location and the split name only and open the data lazily in each process
(memory-mapped Arrow for ``save_to_disk``), so they pickle cheaply into DataLoader workers;
their fingerprint hashes the data files' names and sizes with the split and the columns.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from albench.data.splits import ImageSplit
from albench.data.stratify import stratified_split
from albench.errors import DataNotFoundError, InvalidSpecError

PREFIX = "hf:"
OPTIONS = ("image", "label", "pool", "test")
_CALL = re.compile(r"^(?P<path>.+?)\((?P<options>[^()]*)\)$")
DEFAULT_SPLITS = {"pool": "train", "test": "test"}
_TEST_FRACTION, _SPLIT_SEED = 0.25, 0


def parse(name: str) -> tuple[Path, dict[str, str]]:
    """``hf:PATH(key=value, ...)`` -> (PATH, options); values may be quoted or bare."""
    body = name.removeprefix(PREFIX)
    call = _CALL.match(body)
    options: dict[str, str] = {}
    if call:
        body = call["path"]
        for part in filter(None, (p.strip() for p in call["options"].split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in OPTIONS:
                raise InvalidSpecError(f"{name!r}: options are {', '.join(OPTIONS)} (key=value)")
            options[key.strip()] = _literal(value.strip())
    return Path(body).expanduser(), options


def _literal(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return str(value)


def parquet_splits(path: Path) -> dict[str, tuple[str, ...]]:
    """Split name -> Parquet files: the name before the first ``-`` of the file, else the
    parent folder's name (the hub's ``data/train-00000-of-00001.parquet`` and ``train/``)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    splits: dict[str, list[str]] = {}
    for file in files:
        stem = file.stem.split("-")[0]
        split = stem if stem in ("train", "test", "validation") else file.parent.name
        splits.setdefault(split if path.is_dir() else "train", []).append(str(file))
    return {split: tuple(names) for split, names in splits.items()}


def _library() -> Any:
    try:
        import datasets
    except ImportError:
        raise InvalidSpecError(
            "hf: datasets need Hugging Face's `datasets` package: pip install 'albench[hf]'"
        ) from None
    return datasets


@functools.lru_cache(maxsize=8)
def _open(location: str, split: str) -> Any:
    """The ``datasets.Dataset`` of ``split`` at ``location`` (once per process)."""
    datasets = _library()
    path = Path(location)
    if (path / "dataset_dict.json").is_file():
        return datasets.load_from_disk(location)[split]
    if (path / "dataset_info.json").is_file():
        return datasets.load_from_disk(location)
    import pyarrow.parquet as pq

    return datasets.Dataset(pq.read_table(list(parquet_splits(path)[split])))


def available_splits(path: Path) -> list[str]:
    """Split names at ``path`` (a single saved ``Dataset`` is split ``train``)."""
    if (path / "dataset_dict.json").is_file():
        return list(json.loads((path / "dataset_dict.json").read_text())["splits"])
    if (path / "dataset_info.json").is_file():
        return ["train"]
    return list(parquet_splits(path))


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".arrow", ".parquet"))


class HFSplit(ImageSplit):
    """Rows ``rows`` of split ``split`` of the ``datasets`` data at ``location``."""

    def __init__(self, location: str, split: str, image: str, rows: np.ndarray, labels: np.ndarray):
        super().__init__(labels)
        self.root, self.split, self.image = location, split, image
        self.rows = np.asarray(rows, dtype=np.int64)

    def location(self, index: int) -> str:
        return f"{PREFIX}{self.root} {self.split}[{int(self.rows[index])}]"

    def subset(self, keep: np.ndarray) -> HFSplit:
        return HFSplit(self.root, self.split, self.image, self.rows[keep], self.labels[keep])

    def _rgb_image(self, index: int) -> Image.Image:
        image = _open(self.root, self.split)[int(self.rows[index])][self.image]
        return image.convert("RGB")

    def _digest(self) -> str:
        digest = hashlib.sha256(b"albench.HFSplit/1\n")
        root = Path(self.root)
        for file in _data_files(root):
            relative = file.relative_to(root) if root.is_dir() else file.name
            digest.update(f"{relative}\t{os.stat(file).st_size}\n".encode())
        digest.update(f"{self.split}\t{self.image}\n".encode())
        digest.update(self.rows.astype("<i8").tobytes())
        digest.update(self.labels.astype("<i8").tobytes())
        return digest.hexdigest()


def _column(features: Any, kind: str, chosen: str | None, name: str) -> str:
    """The column named by the option, else the first of feature type ``kind``."""
    if chosen is not None:
        if chosen not in features:
            raise InvalidSpecError(f"{name!r}: no column {chosen!r}; columns: {list(features)}")
        return chosen
    for column, feature in features.items():
        if type(feature).__name__ == kind:
            return column
    raise InvalidSpecError(
        f"{name!r}: no {kind} column among {list(features)}; name it with "
        f"hf:PATH({'image' if kind == 'Image' else 'label'}=COLUMN)"
    )


def _class_names(parts: list[Any], column: str, name: str) -> tuple[str, ...]:
    """A ClassLabel's names, else the sorted distinct strings of the label column."""
    feature = parts[0].features[column]
    if type(feature).__name__ == "ClassLabel":
        return tuple(feature.names)
    values = {value for part in parts for value in part.data.column(column).to_pylist()}
    if not all(isinstance(value, str) for value in values):
        raise InvalidSpecError(
            f"{name!r}: label column {column!r} is neither a ClassLabel nor strings, so it "
            "does not name its classes"
        )
    return tuple(sorted(values))


def _labels(data: Any, column: str, names: tuple[str, ...]) -> np.ndarray:
    values = data.data.column(column).to_pylist()
    if type(data.features[column]).__name__ == "ClassLabel":
        return np.asarray(values, dtype=np.int64)
    index = {label: k for k, label in enumerate(names)}
    return np.asarray([index[value] for value in values], dtype=np.int64)


def load_hf(name: str) -> tuple[HFSplit, HFSplit, tuple[str, ...]]:
    """(pool, test, class names) of ``hf:PATH[(options)]``."""
    path, options = parse(name)
    if not path.exists():
        raise DataNotFoundError(
            f"{name!r}: {path} not found; save a dataset there with datasets' "
            "save_to_disk(PATH), or put its Parquet files there"
        )
    present = available_splits(path)
    wanted = [options.get(which, default) for which, default in DEFAULT_SPLITS.items()]
    location = str(path.resolve())
    if not all(split in present for split in wanted) and len(present) != 1:
        raise InvalidSpecError(
            f"{name!r}: splits {present}; name the pool and test splits with "
            "hf:PATH(pool=SPLIT, test=SPLIT)"
        )
    chosen = wanted if all(split in present for split in wanted) else present[:1]
    parts = [_open(location, split) for split in chosen]
    image = _column(parts[0].features, "Image", options.get("image"), name)
    label = _column(parts[0].features, "ClassLabel", options.get("label"), name)
    names = _class_names(parts, label, name)
    labels = [_labels(part, label, names) for part in parts]
    if len(chosen) == 2:
        pool, test = (
            HFSplit(location, split, image, np.arange(len(y)), y)
            for split, y in zip(chosen, labels, strict=True)
        )
        return pool, test, names
    rows = stratified_split(labels[0], _TEST_FRACTION, np.random.default_rng(_SPLIT_SEED))
    pool, test = (HFSplit(location, chosen[0], image, r, labels[0][r]) for r in rows)
    return pool, test, names
