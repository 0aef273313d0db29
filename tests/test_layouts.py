"""Every dataset spec in its published layouts: CoOp's (DATASETS.md, split files or the
annotations CoOp derives its split from) and torchvision's, each built here from small
generated images with one pool and one test image per class.

Each image's colour encodes its label (red + 256 * green), so a loaded item shows whether
files and labels stayed together. The copies are partial (the spec sizes are the real
datasets'), so they load with ``allow_partial``; ``test_data_checks.py`` covers refusal.
"""

from __future__ import annotations

import gzip
import json
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from albench.cli import main
from albench.data import get_dataset
from albench.data.coop_rules import split_trainval
from albench.data.spec import load_specs, resolve_class_names
from albench.errors import DataNotFoundError


def png(path: Path, label: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (3, 2), (label % 256, label // 256, 7)).save(path, format="PNG")


def label_of(image: Image.Image) -> int:
    red, green, blue = image.getpixel((0, 0))
    return red if red == green == blue else red + 256 * green  # grey: idx images


def names(dataset: str, count: int | None = None) -> list[str]:
    """The spec's class names, or ``count`` made-up ones when the data names its classes."""
    spec = load_specs()[dataset]
    known = resolve_class_names(spec)
    return list(known) if known else [f"class_{k:03d}" for k in range(count or spec.n_classes)]


def lines(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{row}\n" for row in rows))


# --- CoOp split files ---------------------------------------------------------------------


def coop_split(folder: Path, image_dir: str, split_file: str, classes: list[str]) -> None:
    """``split_file`` in ``folder`` listing ``<class>/<split>.png`` under ``image_dir``."""
    rows: dict[str, list] = {"train": [], "val": [], "test": []}
    for label, name in enumerate(classes):
        for split in ("train", "test"):
            relative = f"{name.replace(' ', '_')}/{split}.png"
            png(folder / image_dir / relative, label)
            rows[split].append([relative, label, name.replace(" ", "_")])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / split_file).write_text(json.dumps(rows))


def split_file_layout(folder: str, image_dir: str, split_file: str, dataset: str):
    return lambda root: coop_split(root / folder, image_dir, split_file, names(dataset))


# --- CoOp layouts without a split file (CoOp's rule over the annotations) ------------------


def pets_annotations(folder: Path) -> None:
    """``annotations/{trainval,test}.txt`` (``<Breed>_<n> <class id> <species> <breed id>``),
    five trainval images and one test image per breed, ``images/<Breed>_<n>.jpg``."""
    rows: dict[str, list[str]] = {"trainval": [], "test": []}
    for label, breed in enumerate(names("oxford_pets")):
        for n in range(6):
            image = f"{breed.replace(' ', '_')}_{n}"
            png(folder / "images" / f"{image}.jpg", label)
            rows["test" if n == 5 else "trainval"].append(f"{image} {label + 1} 1 1")
    for split, split_rows in rows.items():
        lines(folder / "annotations" / f"{split}.txt", split_rows)


def aircraft_lists(data: Path) -> None:
    """FGVC-Aircraft's ``data/`` folder: variants and ``images_variant_<split>.txt``."""
    variants = names("fgvc_aircraft")
    lines(data / "variants.txt", variants)
    for offset, split in enumerate(("train", "val", "test")):
        rows = []
        for label, variant in enumerate(variants):
            image = f"{offset}{label:06d}"
            png(data / "images" / f"{image}.jpg", label)
            rows.append(f"{image} {variant}")
        lines(data / f"images_variant_{split}.txt", rows)


def sun397_partitions(folder: Path) -> None:
    """SUN397's ``ClassName.txt`` and Partitions' ``{Training,Testing}_01.txt``."""
    classes = [f"/{chr(97 + k % 26)}/scene_{k:03d}" for k in range(397)]
    classes[1] = "/b/apartment_building/outdoor"
    lines(folder / "ClassName.txt", classes)
    for split in ("Training", "Testing"):
        rows = []
        for label, name in enumerate(classes):
            png(folder / "SUN397" / name[1:] / f"sun_{split}.jpg", label)
            rows.append(f"{name}/sun_{split}.jpg")
        lines(folder / f"{split}_01.txt", rows)


def ucf101_lists(folder: Path) -> None:
    """``ucfTrainTestlist/`` and CoOp's middle frames ``<Action_Words>/<video>.jpg``."""
    actions = [f"ApplyEye{chr(65 + k % 26)}Makeup{k}" for k in range(101)]
    lines(
        folder / "ucfTrainTestlist" / "classInd.txt",
        [f"{k + 1} {a}" for k, a in enumerate(actions)],
    )
    for split in ("train", "test"):
        rows = []
        for label, action in enumerate(actions):
            renamed = "_".join(re.findall("[A-Z][^A-Z]*", action))
            png(folder / "UCF-101-midframes" / renamed / f"v_{action}_{split}.jpg", label)
            rows.append(
                f"{action}/v_{action}_{split}.avi" + (f" {label + 1}" if split == "train" else "")
            )
        lines(folder / "ucfTrainTestlist" / f"{split}list01.txt", rows)


def cars_devkit(folder: Path) -> None:
    """Stanford Cars' ``devkit/`` .mat files and ``cars_test_annos_withlabels.mat``."""
    classes = [f"Maker Model {k} {2000 + k % 13}" for k in range(196)]
    meta = np.empty((1, len(classes)), dtype=object)
    meta[0, :] = [np.array([name]) for name in classes]
    (folder / "devkit").mkdir(parents=True, exist_ok=True)
    savemat(folder / "devkit" / "cars_meta.mat", {"class_names": meta})
    for split, annotation_file in (
        ("cars_train", folder / "devkit" / "cars_train_annos.mat"),
        ("cars_test", folder / "cars_test_annos_withlabels.mat"),
    ):
        records = np.zeros((1, len(classes)), dtype=[("fname", object), ("class", object)])
        for label in range(len(classes)):
            png(folder / split / f"{label:05d}.jpg", label)
            records[0, label] = (np.array([f"{label:05d}.jpg"]), np.array([[label + 1]]))
        savemat(annotation_file, {"annotations": records})


def flowers_labels(folder: Path, per_class: int = 10) -> None:
    """Flowers-102's ``imagelabels.mat`` (1-based label of ``jpg/image_<n>.jpg``, classes
    interleaved as in the real file) and CoOp's ``cat_to_name.json``."""
    classes = names("flowers102")
    labels = [label for _ in range(per_class) for label in range(len(classes))]
    for n, label in enumerate(labels):
        png(folder / "jpg" / f"image_{n + 1:05d}.jpg", label)
    savemat(folder / "imagelabels.mat", {"labels": np.array([labels]) + 1})
    names_file = {str(label + 1): name for label, name in enumerate(classes)}
    (folder / "cat_to_name.json").write_text(json.dumps(names_file))


EUROSAT_FOLDERS = [
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
    "PermanentCrop", "Residential", "River", "SeaLake",
]  # fmt: skip
CALTECH_FOLDERS = ["BACKGROUND_Google", "Faces", "Faces_easy", "Leopards", "airplanes"] + [
    f"thing_{k:02d}" for k in range(97)
]


def class_folders(image_dir: Path, folders: list[str], per_class: int = 10) -> None:
    """``image_dir/<folder>/<n>.jpg``; the colour encodes the folder's rank among the kept
    (not ignored) folders, in sorted order, which is CoOp's label."""
    kept = sorted(f for f in folders if f not in ("BACKGROUND_Google", "Faces_easy"))
    for folder in folders:
        label = kept.index(folder) if folder in kept else 999
        for n in range(per_class):
            png(image_dir / folder / f"{n:04d}.jpg", label)


# --- torchvision layouts --------------------------------------------------------------------


def torchvision_dtd(root: Path) -> None:
    data = root / "dtd" / "dtd"
    for split in ("train", "test"):
        rows = []
        for label, name in enumerate(names("dtd")):
            png(data / "images" / name / f"{name}_{split}.jpg", label)
            rows.append(f"{name}/{name}_{split}.jpg")
        lines(data / "labels" / f"{split}1.txt", rows)


def torchvision_food101(root: Path) -> None:
    folder = root / "food-101"
    classes = [name.replace(" ", "_") for name in names("food101")]
    for split in ("train", "test"):
        meta = {}
        for label, name in enumerate(classes):
            png(folder / "images" / name / f"{split}.jpg", label)
            meta[name] = [f"{name}/{split}"]
        lines(folder / "meta" / f"{split}.json", [json.dumps(meta)])


def torchvision_pets(root: Path) -> None:
    folder = root / "oxford-iiit-pet"
    for split in ("trainval", "test"):
        rows = []
        for label, breed in enumerate(names("oxford_pets")):
            image = f"{breed.replace(' ', '_')}_{split}"
            png(folder / "images" / f"{image}.jpg", label)
            rows.append(f"{image} {label + 1} 1 1")
        lines(folder / "annotations" / f"{split}.txt", rows)


def torchvision_imagenet(root: Path) -> None:
    folder = root / "imagenet"
    wnids = [f"n{k:08d}" for k in range(1000)]
    for split in ("train", "val"):
        for label, wnid in enumerate(wnids):
            png(folder / split / wnid / f"{wnid}_{split}.JPEG", label)
    torch.save(({wnid: (f"name {wnid}",) for wnid in wnids}, []), folder / "meta.bin")


def imagenet_folders(root: Path) -> None:
    for split in ("train", "val"):
        for label in range(1000):
            png(root / "imagenet" / "images" / split / f"n{label:08d}" / "x.JPEG", label)


def idx_files(folder: Path) -> None:
    """Fashion-MNIST's four idx files (gzip), one image per class and split."""
    for prefix in ("train", "t10k"):
        images = np.zeros((10, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(10)
        header = bytes([0, 0, 0x08, 3]) + np.array([10, 28, 28], ">u4").tobytes()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(header + images.tobytes())
        )
        labels = bytes([0, 0, 0x08, 1]) + np.array([10], ">u4").tobytes() + bytes(range(10))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))


Layout = Callable[[Path], None]
RULE = "annotations, CoOp's split rule"
FOLDERS = "class folders, CoOp's split rule"


def split_file(dataset: str, folder: str, image_dir: str, name: str) -> Layout:
    """CoOp's layout with its split file ``split_zhou_<name>.json``."""
    return lambda root: coop_split(
        root / folder, image_dir, f"split_zhou_{name}.json", names(dataset)
    )


def under(folder: str, build: Callable[[Path], None]) -> Layout:
    return lambda root: build(root / folder)


def layout(dataset: str, kind: str, build: Layout, source: str, pool: int, test: int):
    return pytest.param(dataset, build, source, pool, test, id=f"{dataset}-{kind}")


LAYOUTS = [
    layout(
        "caltech101",
        "coop",
        split_file("caltech101", "caltech-101", "101_ObjectCategories", "Caltech101"),
        "CoOp split",
        100,
        100,
    ),
    layout(
        "caltech101",
        "torchvision",
        split_file("caltech101", "caltech101", "101_ObjectCategories", "Caltech101"),
        "CoOp split",
        100,
        100,
    ),
    layout(
        "dtd",
        "coop",
        split_file("dtd", "dtd", "images", "DescribableTextures"),
        "CoOp split",
        47,
        47,
    ),
    layout(
        "dtd",
        "coop-folders",
        lambda root: class_folders(root / "dtd" / "images", names("dtd")),
        FOLDERS,
        47 * 5,
        47 * 3,
    ),
    layout("dtd", "torchvision", torchvision_dtd, "torchvision DTD", 47, 47),
    layout(
        "eurosat",
        "coop-folders",
        lambda root: class_folders(root / "eurosat" / "2750", EUROSAT_FOLDERS),
        FOLDERS,
        50,
        30,
    ),
    layout(
        "caltech101",
        "torchvision-folders",
        lambda root: class_folders(root / "caltech101" / "101_ObjectCategories", CALTECH_FOLDERS),
        FOLDERS,
        500,
        300,
    ),
    layout(
        "food101",
        "coop-folders",
        lambda root: class_folders(root / "food-101" / "images", names("food101")),
        FOLDERS,
        505,
        303,
    ),
    layout(
        "eurosat", "coop", split_file("eurosat", "eurosat", "2750", "EuroSAT"), "CoOp split", 10, 10
    ),
    layout(
        "fashion-mnist", "torchvision", under("FashionMNIST/raw", idx_files), "idx files", 10, 10
    ),
    layout("fgvc_aircraft", "coop", under("fgvc_aircraft", aircraft_lists), RULE, 100, 100),
    layout(
        "fgvc_aircraft",
        "torchvision",
        under("fgvc-aircraft-2013b/data", aircraft_lists),
        "torchvision FGVCAircraft",
        100,
        100,
    ),
    layout(
        "flowers102",
        "coop",
        split_file("flowers102", "oxford_flowers", "jpg", "OxfordFlowers"),
        "CoOp split",
        102,
        102,
    ),
    layout(
        "flowers102",
        "coop-annotations",
        under("oxford_flowers", flowers_labels),
        RULE,
        102 * 5,
        102 * 3,
    ),
    layout(
        "food101",
        "coop",
        split_file("food101", "food-101", "images", "Food101"),
        "CoOp split",
        101,
        101,
    ),
    layout("food101", "torchvision", torchvision_food101, "torchvision Food101", 101, 101),
    layout("imagenet", "coop", imagenet_folders, "image folder", 1000, 1000),
    layout("imagenet", "torchvision", torchvision_imagenet, "torchvision ImageNet", 1000, 1000),
    layout(
        "oxford_pets",
        "coop",
        split_file("oxford_pets", "oxford_pets", "images", "OxfordPets"),
        "CoOp split",
        37,
        37,
    ),
    layout(
        "oxford_pets", "coop-annotations", under("oxford_pets", pets_annotations), RULE, 37 * 4, 37
    ),
    layout("oxford_pets", "torchvision", torchvision_pets, "torchvision OxfordIIITPet", 37, 37),
    layout(
        "stanford_cars",
        "coop",
        split_file("stanford_cars", "stanford_cars", ".", "StanfordCars"),
        "CoOp split",
        196,
        196,
    ),
    layout(
        "stanford_cars", "coop-annotations", under("stanford_cars", cars_devkit), RULE, 196, 196
    ),
    layout(
        "sun397", "coop", split_file("sun397", "sun397", "SUN397", "SUN397"), "CoOp split", 397, 397
    ),
    layout("sun397", "coop-annotations", under("sun397", sun397_partitions), RULE, 397, 397),
    layout(
        "sun397",
        "torchvision",
        split_file("sun397", "SUN397", ".", "SUN397"),
        "CoOp split",
        397,
        397,
    ),
    layout(
        "ucf101",
        "coop",
        split_file("ucf101", "ucf101", "UCF-101-midframes", "UCF101"),
        "CoOp split",
        101,
        101,
    ),
    layout("ucf101", "coop-annotations", under("ucf101", ucf101_lists), RULE, 101, 101),
]


@pytest.mark.parametrize(("name", "build", "source", "pool_size", "test_size"), LAYOUTS)
def test_each_published_layout_loads(tmp_path, name, build, source, pool_size, test_size):
    build(tmp_path)
    dataset = get_dataset(name, data_root=tmp_path, allow_partial=True)
    assert dataset.source == source
    assert dataset.n_classes == load_specs()[name].n_classes
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == (pool_size, test_size)
    assert sorted(set(pool.labels)) == list(range(dataset.n_classes))
    for split in (pool, test):
        for index in (0, len(split) // 2, len(split) - 1):
            image, label = split[index]
            assert label_of(image) == label


def test_caltech_folders_follow_coops_ignored_folders_and_names(tmp_path):
    class_folders(tmp_path / "caltech-101" / "101_ObjectCategories", CALTECH_FOLDERS)
    dataset = get_dataset("caltech101", data_root=tmp_path, allow_partial=True)
    assert dataset.class_names[:3] == ("face", "leopard", "airplane")
    assert dataset.notes[0] == (
        "split built from the class folders by CoOp's rule (random.Random(1))"
    )
    assert not any(f.startswith(("BACKGROUND", "Faces_easy")) for f in dataset.split("pool").files)


def test_coop_rule_moves_a_fifth_of_each_class_to_val():
    rows = [
        (f"{label}_{n}.jpg", label, str(label)) for label in range(3) for n in range(10 + label)
    ]
    train, val = split_trainval(rows, random.Random(1))
    assert [sum(r[1] == k for r in val) for k in range(3)] == [2, 2, 2]  # round(0.2 n)
    assert sorted(train + val) == sorted(rows)
    again, _ = split_trainval(rows, random.Random(1))
    assert again == train


def test_oxford_pets_split_is_built_from_the_annotations_and_recorded(tmp_path):
    pets_annotations(tmp_path / "oxford_pets")
    dataset = get_dataset("oxford_pets", data_root=tmp_path, allow_partial=True)
    assert dataset.notes[0] == "split built from the annotations by CoOp's rule (random.Random(1))"
    assert dataset.class_names[:2] == ("Abyssinian", "american bulldog")  # the spec's names
    assert np.bincount(dataset.split("pool").labels).tolist() == [4] * 37  # 5 - round(0.2 * 5)
    assert dataset.split("test").files[0] == "Abyssinian_5.jpg"


def test_fgvc_aircraft_coop_and_torchvision_layouts_give_the_same_split(tmp_path):
    aircraft_lists(tmp_path / "a" / "fgvc_aircraft")
    aircraft_lists(tmp_path / "b" / "fgvc-aircraft-2013b" / "data")
    coop, torchvision = (
        get_dataset("fgvc_aircraft", data_root=tmp_path / folder, allow_partial=True)
        for folder in "ab"
    )
    assert coop.class_names == torchvision.class_names
    for which in ("pool", "test"):
        ours, theirs = coop.split(which), torchvision.split(which)
        assert [Path(f).name for f in ours.files] == [Path(f).name for f in theirs.files]
        assert ours.labels.tolist() == theirs.labels.tolist()


def test_missing_layouts_name_both_folders_and_where_the_split_file_comes_from(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        get_dataset("fgvc_aircraft", data_root=tmp_path)
    assert str(caught.value) == (
        "dataset 'fgvc_aircraft' not found offline: CoOp layout without a split file: "
        f"variants.txt, images_variant_train.txt, images_variant_test.txt in {tmp_path}/"
        f"fgvc_aircraft with the images in {tmp_path}/fgvc_aircraft/images (the split is read "
        f"from them); or torchvision layout: {tmp_path}/fgvc-aircraft-2013b/data/variants.txt "
        "(torchvision FGVCAircraft; --download fetches it)"
    )
    with pytest.raises(DataNotFoundError) as caught:
        get_dataset("eurosat", data_root=tmp_path)
    assert str(caught.value) == (
        f"dataset 'eurosat' not found offline: CoOp layout: {tmp_path}/eurosat/"
        "split_zhou_EuroSAT.json (linked from CoOp's DATASETS.md, "
        f"github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md) with the images in {tmp_path}/"
        "eurosat/2750; torchvision's EuroSAT download makes the same eurosat/2750 folder; or "
        "CoOp layout without a split file: one folder of images per class in "
        f"{tmp_path}/eurosat/2750 (the split is then built by CoOp's rule)"
    )


def test_a_missing_layout_exits_2_in_one_line(tmp_path, capsys):
    assert main(["datasets", "--verify", "ucf101", "--data-root", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "split_zhou_UCF101.json (linked from CoOp's" in error
    assert f"ucfTrainTestlist/testlist01.txt in {tmp_path}/ucf101" in error


def torchvision_flowers(root: Path) -> None:
    folder = root / "flowers-102"
    flowers_labels(folder, per_class=2)
    ids = np.arange(1, 2 * 102 + 1)
    savemat(folder / "setid.mat", {"trnid": ids[:102], "valid": ids[:0], "tstid": ids[102:]})


def torchvision_cifar10(root: Path) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    for name, offset in [(f"data_batch_{k}", k) for k in range(1, 6)] + [("test_batch", 0)]:
        data = np.zeros((10, 3 * 32 * 32), dtype=np.uint8)
        data[:, 0] = np.arange(10)  # red channel of pixel (0, 0)
        batch = {"data": data, "labels": list(range(10)), "offset": offset}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names("cifar10")}))


def torchvision_cifar100(root: Path) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test"):
        data = np.zeros((100, 3 * 32 * 32), dtype=np.uint8)
        data[:, 0] = np.arange(100)
        batch = {"data": data, "fine_labels": list(range(100))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": names("cifar100")}))


@pytest.mark.parametrize(
    ("name", "build", "module", "sizes"),
    [
        ("flowers102", torchvision_flowers, "flowers102", (102, 102)),
        ("cifar10", torchvision_cifar10, "cifar", (50, 10)),
        ("cifar100", torchvision_cifar100, "cifar", (100, 100)),
    ],
)
def test_checksummed_torchvision_layouts_load(tmp_path, monkeypatch, name, build, module, sizes):
    """torchvision checks these files against the md5 of the full published ones, which a
    small copy cannot match; with that check passed, the layout loads with its labels."""
    build(tmp_path)
    monkeypatch.setattr(f"torchvision.datasets.{module}.check_integrity", lambda *a, **k: True)
    dataset = get_dataset(name, data_root=tmp_path, allow_partial=True)
    assert dataset.source.startswith("torchvision ")
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == sizes
    for split in (pool, test):
        for index in (0, len(split) - 1):
            image, label = split[index]
            assert image.getpixel((0, 0))[0] == label % 256
