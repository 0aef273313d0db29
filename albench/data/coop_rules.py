"""CoOp's splits rebuilt from a dataset's own annotations, for copies without a split file.

CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022; code:
github.com/KaiyangZhou/CoOp, ``datasets/*.py``) derives the splits of several datasets from
the annotations that ship with them and saves the result as ``split_zhou_<Name>.json``:

- FGVC-Aircraft: ``images_variant_{train,val,test}.txt`` are the splits (no file is saved);
- Oxford Pets, Stanford Cars, SUN397, UCF101: the official train(val) and test lists, then
  ``split_trainval`` moves ``round(0.2 * n)`` images of each class (``random.shuffle`` of the
  class's indices, classes in order of first appearance) to ``val``; the pool is the rest;
- Flowers-102: ``imagelabels.mat``, each class shuffled and cut 50 % train, 20 % val, the
  rest test (``round``, as CoOp's ``OxfordFlowers.read_data``).

A source of kind ``coop-rule`` reads the annotations named by its ``rule`` and applies the
same steps; one of kind ``coop-folders`` applies CoOp's ``read_and_split_data`` (the same
50/20/30 cut over class folders) to DTD, EuroSAT, Caltech-101 and Food-101 trees. Shuffles
are drawn from ``random.Random(seed)`` (option ``seed``, default 1: the first of CoOp's
seeds, whose run writes the split file). Sizes are CoOp's, and so is every split read from
a list; a shuffled split is a draw of CoOp's rule that may differ from the published file,
so the dataset records in its notes how it was built.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from albench.data.source import Loaded, Source
from albench.data.splits import FileSplit
from albench.errors import InvalidSpecError

#: (path relative to the image folder, label, CoOp's class name)
Row = tuple[str, int, str]
VAL_FRACTION = 0.2
DEFAULT_SEED = 1


def split_trainval(rows: list[Row], rng: random.Random) -> tuple[list[Row], list[Row]]:
    """CoOp's ``OxfordPets.split_trainval`` with ``p_val=0.2``: (train, val)."""
    by_label: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_label.setdefault(row[1], []).append(index)
    train: list[Row] = []
    val: list[Row] = []
    for indices in by_label.values():
        n_val = round(len(indices) * VAL_FRACTION)
        rng.shuffle(indices)
        val += [rows[i] for i in indices[:n_val]]
        train += [rows[i] for i in indices[n_val:]]
    return train, val


def split_thirds(rows: list[Row], rng: random.Random) -> tuple[list[Row], list[Row]]:
    """CoOp's ``OxfordFlowers.read_data`` split: per class (in order of first appearance),
    shuffled, ``round(0.5 n)`` train, ``round(0.2 n)`` val, the rest test: (train, test)."""
    by_label: dict[int, list[Row]] = {}
    for row in rows:
        by_label.setdefault(row[1], []).append(row)
    train: list[Row] = []
    test: list[Row] = []
    for members in by_label.values():
        rng.shuffle(members)
        n_train, n_val = round(len(members) * 0.5), round(len(members) * VAL_FRACTION)
        train += members[:n_train]
        test += members[n_train + n_val :]
    return train, test


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _pets(folder: Path) -> tuple[list[Row], list[Row]]:
    """``annotations/{trainval,test}.txt``: ``<image> <class id> <species> <breed id>``."""

    def read(name: str) -> list[Row]:
        rows = []
        for line in _lines(folder / "annotations" / name):
            image, label = line.split(" ")[:2]
            rows.append((f"{image}.jpg", int(label) - 1, image.rsplit("_", 1)[0].lower()))
        return rows

    return read("trainval.txt"), read("test.txt")


def _aircraft(folder: Path) -> tuple[list[Row], list[Row]]:
    """``variants.txt`` (label order) and ``images_variant_<split>.txt``: ``<id> <variant>``."""
    labels = {name: label for label, name in enumerate(_lines(folder / "variants.txt"))}

    def read(split: str) -> list[Row]:
        rows = []
        for line in _lines(folder / f"images_variant_{split}.txt"):
            image, variant = line.split(" ", 1)
            rows.append((f"{image}.jpg", labels[variant], variant))
        return rows

    return read("train"), read("test")


def _sun397(folder: Path) -> tuple[list[Row], list[Row]]:
    """``ClassName.txt`` (``/a/abbey``) and ``{Training,Testing}_01.txt`` (``/a/abbey/x.jpg``);
    CoOp names a class by its path parts after the letter, reversed (``outdoor apartment``)."""
    classes = [line[1:] for line in _lines(folder / "ClassName.txt")]
    labels = {name: label for label, name in enumerate(classes)}

    def read(name: str) -> list[Row]:
        rows = []
        for line in _lines(folder / name):
            image = line[1:]
            directory = image.rsplit("/", 1)[0]
            readable = " ".join(directory.split("/")[1:][::-1])
            rows.append((image, labels[directory], readable))
        return rows

    return read("Training_01.txt"), read("Testing_01.txt")


def _ucf101(folder: Path) -> tuple[list[Row], list[Row]]:
    """``ucfTrainTestlist/classInd.txt`` and ``{train,test}list01.txt``; CoOp's middle frames
    are ``<Action_Words>/<video>.jpg``."""
    lists = folder / "ucfTrainTestlist"
    labels = {}
    for line in _lines(lists / "classInd.txt"):
        number, action = line.split(" ")
        labels[action] = int(number) - 1

    def read(name: str) -> list[Row]:
        rows = []
        for line in _lines(lists / name):
            action, video = line.split(" ")[0].split("/")
            renamed = "_".join(re.findall("[A-Z][^A-Z]*", action))
            rows.append((f"{renamed}/{video.replace('.avi', '.jpg')}", labels[action], renamed))
        return rows

    return read("trainlist01.txt"), read("testlist01.txt")


def _stanford_cars(folder: Path) -> tuple[list[Row], list[Row]]:
    """``devkit/cars_train_annos.mat``, ``cars_test_annos_withlabels.mat`` and
    ``devkit/cars_meta.mat``; CoOp puts a class name's year first."""
    from scipy.io import loadmat

    meta = loadmat(folder / "devkit" / "cars_meta.mat")["class_names"][0]
    names = [str(entry[0]) for entry in meta]

    def read(images: str, annotations: Path) -> list[Row]:
        rows = []
        for entry in loadmat(annotations)["annotations"][0]:
            label = int(entry["class"][0, 0]) - 1
            *model, year = names[label].split(" ")
            rows.append((f"{images}/{entry['fname'][0]}", label, " ".join([year, *model])))
        return rows

    return (
        read("cars_train", folder / "devkit" / "cars_train_annos.mat"),
        read("cars_test", folder / "cars_test_annos_withlabels.mat"),
    )


def _flowers(folder: Path) -> tuple[list[Row], list[Row]]:
    """``imagelabels.mat`` (label of ``image_<n>.jpg``, 1-based) and ``cat_to_name.json``;
    every image comes back in the first list, for :func:`split_thirds`."""
    from scipy.io import loadmat

    names = json.loads((folder / "cat_to_name.json").read_text(encoding="utf-8"))
    labels = loadmat(folder / "imagelabels.mat")["labels"][0]
    rows = [
        (f"image_{n + 1:05d}.jpg", int(y) - 1, names[str(int(y))]) for n, y in enumerate(labels)
    ]
    return rows, []


Lists = tuple[list[Row], list[Row]]


def _as_read(lists: Lists, rng: random.Random) -> Lists:
    return lists


def _trainval(lists: Lists, rng: random.Random) -> Lists:
    trainval, test = lists
    return split_trainval(trainval, rng)[0], test


def _thirds(lists: Lists, rng: random.Random) -> Lists:
    return split_thirds(lists[0], rng)


@dataclass(frozen=True)
class Rule:
    """How CoOp reads one dataset's annotations: the files that must be there, the image
    folder (relative to the dataset folder), the reader, and how the lists it reads become
    the (pool, test) split."""

    needs: tuple[str, ...]
    image_dir: str
    read: Callable[[Path], Lists]
    split: Callable[[Lists, random.Random], Lists] = _trainval

    @property
    def random(self) -> bool:
        return self.split is not _as_read


RULES: dict[str, Rule] = {
    "oxford_pets": Rule(("annotations/trainval.txt", "annotations/test.txt"), "images", _pets),
    "fgvc_aircraft": Rule(
        ("variants.txt", "images_variant_train.txt", "images_variant_test.txt"),
        "images",
        _aircraft,
        split=_as_read,
    ),
    "oxford_flowers": Rule(("imagelabels.mat", "cat_to_name.json"), "jpg", _flowers, split=_thirds),
    "sun397": Rule(("ClassName.txt", "Training_01.txt", "Testing_01.txt"), "SUN397", _sun397),
    "ucf101": Rule(
        tuple(f"ucfTrainTestlist/{name}.txt" for name in ("classInd", "trainlist01", "testlist01")),
        "UCF-101-midframes",
        _ucf101,
    ),
    "stanford_cars": Rule(
        ("devkit/cars_meta.mat", "devkit/cars_train_annos.mat", "cars_test_annos_withlabels.mat"),
        ".",
        _stanford_cars,
    ),
}


class CoopRuleSource(Source):
    """CoOp's split of ``dir`` rebuilt from its annotations by rule ``rule`` (module doc)."""

    kind = "coop-rule"

    @property
    def rule(self) -> Rule:
        return RULES[self.options["rule"]]

    @property
    def label(self) -> str:
        return "annotations, CoOp's split rule"

    def available(self) -> bool:
        rule = self.rule
        files = all((self.directory / name).is_file() for name in rule.needs)
        return files and (self.directory / rule.image_dir).is_dir()

    def hint(self) -> str:
        needed = ", ".join(self.rule.needs)
        images = self.directory / self.rule.image_dir
        how = "built from them by CoOp's rule" if self.rule.random else "read from them"
        return (
            f"CoOp layout without a split file: {needed} in {self.directory} with the images in "
            f"{images} (the split is {how})"
        )

    def load(self, download: bool = False) -> Loaded:
        self.require_available()
        rule = self.rule
        try:
            lists = rule.read(self.directory)
        except (KeyError, ValueError, IndexError) as error:
            raise InvalidSpecError(f"{self.directory}: unreadable annotations ({error})") from None
        seed = int(self.options.get("seed", DEFAULT_SEED))
        pool, test = rule.split(lists, random.Random(seed))
        note = "split read from the annotations, as CoOp does"
        if rule.random:
            note = f"split built from the annotations by CoOp's rule (random.Random({seed}))"
        return coop_loaded(self.directory / rule.image_dir, pool, test, note)


def coop_loaded(root: Path, pool: list, test: list, note: str) -> Loaded:
    """The splits of CoOp rows under ``root``, their class names and how they were made."""
    splits = (rows_split(root, rows) for rows in (pool, test))
    return Loaded(*splits, class_names=names_by_label(pool + test, root), notes=(note,))


def rows_split(root: Path, rows: list) -> FileSplit:
    """The file split of CoOp rows ``(path relative to root, label, name)``, in row order."""
    return FileSplit(root, [row[0] for row in rows], np.asarray([int(row[1]) for row in rows]))


def names_by_label(rows: list, where: Path) -> tuple[str, ...]:
    """Class names by label from CoOp rows ``(path, label, name)``; CoOp writes underscores
    where prompts need spaces."""
    names: dict[int, str] = {}
    for _, label, name in rows:
        if names.setdefault(int(label), name) != name:
            raise InvalidSpecError(f"{where}: label {label} has two class names")
    if sorted(names) != list(range(len(names))):
        raise InvalidSpecError(f"{where}: labels are not 0..{len(names) - 1}")
    return tuple(names[label].replace("_", " ") for label in range(len(names)))


def folder_rows(image_dir: Path, ignored: set[str], renames: dict[str, str]) -> list[Row]:
    """CoOp's ``DTD.read_and_split_data`` listing: one class per sorted sub-folder (less
    ``ignored``, names changed by ``renames``), every visible file in it. CoOp lists files in
    the file system's order; they are sorted here, so the split does not depend on it."""
    folders = sorted(
        p.name for p in image_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    rows: list[Row] = []
    for label, folder in enumerate(f for f in folders if f not in ignored):
        files = sorted(p.name for p in (image_dir / folder).iterdir() if not p.name.startswith("."))
        rows += [(f"{folder}/{name}", label, renames.get(folder, folder)) for name in files]
    return rows


class CoopFolderSource(Source):
    """CoOp's split of a class-per-folder tree without its split file: each class shuffled
    and cut 50 % pool, 20 % val, 30 % test (``read_and_split_data``, as for DTD, EuroSAT,
    Caltech-101 and Food-101), drawn from ``random.Random(seed)``. Options: ``dir``,
    ``image_dir``, ``ignored`` folders, ``renames`` (folder -> CoOp's class name)."""

    kind = "coop-folders"

    @property
    def image_dir(self) -> Path:
        return self.directory / self.options["image_dir"]

    @property
    def label(self) -> str:
        return "class folders, CoOp's split rule"

    def available(self) -> bool:
        return self.image_dir.is_dir()

    def hint(self) -> str:
        return (
            f"CoOp layout without a split file: one folder of images per class in "
            f"{self.image_dir} (the split is then built by CoOp's rule)"
        )

    def load(self, download: bool = False) -> Loaded:
        self.require_available()
        ignored = set(self.options.get("ignored", ()))
        rows = folder_rows(self.image_dir, ignored, dict(self.options.get("renames", {})))
        seed = int(self.options.get("seed", DEFAULT_SEED))
        pool, test = split_thirds(rows, random.Random(seed))
        note = f"split built from the class folders by CoOp's rule (random.Random({seed}))"
        return coop_loaded(self.image_dir, pool, test, note)
