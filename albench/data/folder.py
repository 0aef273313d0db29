"""Image folders: ``imagefolder:PATH``, ImageNet-style train/val trees, CoOp split files.

Folder layout: one sub-folder per class (sorted by name gives the label), images anywhere
below it. When the dataset folder has ``train/`` and ``test/`` (or the spec names other
sub-folders) those are the pool and test splits; otherwise a stratified split with
``test_fraction`` 0.25 and ``numpy.random.default_rng(0)`` (see :mod:`albench.data.stratify`).
An optional ``classnames.txt`` gives readable names: either ``<folder> <class name>`` per
line, or one name per line in sorted-folder order.

CoOp split files (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022)
are JSON ``{"train": [[relpath, label, classname], ...], "val": [...], "test": [...]}`` with
paths relative to the image folder; the pool is ``train`` and ``val`` is not used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from albench.data.coop_rules import names_by_label, rows_split
from albench.data.source import Loaded, Source
from albench.data.splits import FileSplit
from albench.data.stratify import stratified_split
from albench.errors import DataNotFoundError, InvalidSpecError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)
CLASSNAMES_FILE = "classnames.txt"
#: where CoOp links its split_zhou_*.json files and describes each dataset's folder layout
COOP_DATASETS_URL = "github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"
DEFAULT_TEST_FRACTION = 0.25
DEFAULT_SPLIT_SEED = 0


def class_folders(directory: Path) -> list[str]:
    """Sorted names of the visible sub-folders of ``directory``."""
    return sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(directory: Path, relative_to: Path) -> list[str]:
    """Sorted paths (relative to ``relative_to``) of the image files below ``directory``."""
    return sorted(
        p.relative_to(relative_to).as_posix()
        for p in directory.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


def scan(directory: Path, root: Path, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """Files of ``directory/<class>/`` for each class present, labelled by ``classes``."""
    unknown = sorted(set(class_folders(directory)) - set(classes))
    if unknown:
        raise InvalidSpecError(f"{directory}: class folders {unknown} are not in the pool split")
    files: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        if (directory / name).is_dir():
            found = image_files(directory / name, root)
            files += found
            labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def read_classnames(path: Path, folders: list[str]) -> tuple[str, ...]:
    """Readable class names from ``classnames.txt``, in the order of ``folders``."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    pairs = [line.split(maxsplit=1) for line in lines]
    if all(len(pair) == 2 and pair[0] in folders for pair in pairs):
        mapping = dict(pairs)
        missing = [folder for folder in folders if folder not in mapping]
        if missing:
            raise InvalidSpecError(f"{path}: no name for class folders {missing}")
        return tuple(mapping[folder] for folder in folders)
    if len(lines) == len(folders):
        return tuple(lines)
    raise InvalidSpecError(
        f"{path}: expected '<folder> <name>' lines or {len(folders)} names, one per line"
    )


class FolderSource(Source):
    """A class-per-folder tree under ``dir`` (absolute, or relative to the data root)."""

    kind = "folder"

    @property
    def label(self) -> str:
        return "image folder"

    def _split_dirs(self) -> tuple[str, str] | None:
        if "pool_dir" in self.options:
            return self.options["pool_dir"], self.options["test_dir"]
        if (self.directory / "train").is_dir() and (self.directory / "test").is_dir():
            return "train", "test"
        return None

    def available(self) -> bool:
        dirs = self._split_dirs() or ()
        return self.directory.is_dir() and all((self.directory / d).is_dir() for d in dirs)

    def hint(self) -> str:
        dirs = self._split_dirs()
        where = " and ".join(str(self.directory / d) for d in dirs) if dirs else self.directory
        return f"put one folder of images per class in {where}"

    def _fixed_splits(self, dirs: tuple[str, str], classes: list[str]) -> list[FileSplit]:
        return [
            FileSplit(self.directory, *scan(self.directory / d, self.directory, classes))
            for d in dirs
        ]

    def _seeded_split(self, classes: list[str]) -> list[FileSplit]:
        files, labels = scan(self.directory, self.directory, classes)
        rng = np.random.default_rng(self.options.get("split_seed", DEFAULT_SPLIT_SEED))
        fraction = self.options.get("test_fraction", DEFAULT_TEST_FRACTION)
        return [
            FileSplit(self.directory, [files[i] for i in index], labels[index])
            for index in stratified_split(labels, fraction, rng)
        ]

    def load(self, download: bool = False) -> Loaded:
        self.require_available()
        dirs = self._split_dirs()
        classes = class_folders(self.directory / dirs[0] if dirs else self.directory)
        pool, test = self._fixed_splits(dirs, classes) if dirs else self._seeded_split(classes)
        if len(pool) == 0 or len(test) == 0:
            raise DataNotFoundError(f"dataset {self.dataset!r}: no images; {self.hint()}")
        names_file = self.directory / CLASSNAMES_FILE
        names = read_classnames(names_file, classes) if names_file.is_file() else tuple(classes)
        return Loaded(pool, test, class_names=names)


class CoopSplitSource(Source):
    """CoOp's ``split_zhou_<Name>.json`` in ``dir``, images under ``dir/image_dir``."""

    kind = "coop-split"

    @property
    def split_file(self) -> Path:
        return self.directory / self.options["split_file"]

    @property
    def label(self) -> str:
        return "CoOp split"

    def available(self) -> bool:
        return self.split_file.is_file() and (self.directory / self.options["image_dir"]).is_dir()

    def hint(self) -> str:
        image_dir = self.directory / self.options["image_dir"]
        also = f"; {self.options['images_note']}" if "images_note" in self.options else ""
        return (
            f"CoOp layout: {self.split_file} (linked from CoOp's DATASETS.md, "
            f"{COOP_DATASETS_URL}) with the images in {image_dir}{also}"
        )

    def load(self, download: bool = False) -> Loaded:
        self.require_available()
        try:
            entries = json.loads(self.split_file.read_text(encoding="utf-8"))
            pool_rows, test_rows = entries["train"], entries["test"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise InvalidSpecError(f"{self.split_file}: not a CoOp split file ({error})") from None
        root = self.directory / self.options["image_dir"]
        splits = [rows_split(root, rows) for rows in (pool_rows, test_rows)]
        return Loaded(*splits, class_names=names_by_label(pool_rows + test_rows, self.split_file))
