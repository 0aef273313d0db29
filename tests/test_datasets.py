"""Dataset layer: specs, embedded data, splits, fingerprints, folders, CoOp splits, errors."""

from __future__ import annotations

import json
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from albench.cli import main
from albench.data import (
    ArraySplit,
    FileSplit,
    dataset_infos,
    dataset_names,
    datasets_dir,
    get_dataset,
    resolve_data_root,
)
from albench.data.folder import read_classnames
from albench.data.idx import IdxSource, read_idx
from albench.data.spec import (
    PLACEHOLDER,
    load_specs,
    parse_spec,
    resolve_class_names,
    resolve_templates,
)
from albench.data.stratify import class_quotas, stratified_split
from albench.errors import DataNotFoundError, InvalidSpecError, UnknownNameError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed",
)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def color_of(label: int) -> tuple[int, int, int]:
    return (40 * label + 10, 255 - 40 * label, 7)


def write_png(path: Path, label: int, size: tuple[int, int] = (3, 2), mode: str = "RGB") -> None:
    """A tiny image whose colour encodes its label (grey level in mode "L")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value = color_of(label) if mode == "RGB" else color_of(label)[0]
    Image.new(mode, size, value).save(path, format="PNG")


def assert_items_match_labels(split, n: int = 6) -> None:
    for i in range(min(n, len(split))):
        image, label = split[i]
        assert isinstance(image, Image.Image) and image.mode == "RGB"
        assert label == split.labels[i] and isinstance(label, int)
        assert image.getpixel((0, 0))[0] == color_of(label)[0]


# --- specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(load_specs()))
def test_every_spec_is_complete(name):
    spec = load_specs()[name]
    names = resolve_class_names(spec)
    if names is not None:
        assert len(names) == spec.n_classes
    if isinstance(spec.class_names, tuple):  # open_clip's ImageNet list repeats two names
        assert len(set(spec.class_names)) == spec.n_classes
    templates = resolve_templates(spec)
    assert templates and all(t.count(PLACEHOLDER) == 1 for t in templates)
    assert spec.coop_template.count(PLACEHOLDER) == 1
    for source in spec.sources:
        pool, test = source["sizes"]
        assert pool > 0 and test > 0


def test_expected_datasets_are_listed():
    expected = {
        "fashion-mnist-mini",
        "fashion-mnist",
        "digits",
        "cifar10",
        "cifar100",
        "imagenet",
        "caltech101",
        "oxford_pets",
        "stanford_cars",
        "flowers102",
        "food101",
        "fgvc_aircraft",
        "sun397",
        "dtd",
        "eurosat",
        "ucf101",
    }
    assert set(dataset_names()) == expected


def test_imagenet_names_and_templates_come_from_open_clip():
    spec = load_specs()["imagenet"]
    names = resolve_class_names(spec)
    assert len(names) == 1000 and names[0] == "tench"
    templates = resolve_templates(spec)
    assert len(templates) == 80 and "a bad photo of a {}." in templates


def test_spec_validation_rejects_bad_specs(tmp_path):
    good = json.loads((datasets_dir() / "specs" / "digits.json").read_text())
    path = tmp_path / "digits.json"
    parse_spec(good, path)
    with pytest.raises(InvalidSpecError, match="class names"):
        parse_spec({**good, "class_names": ["0", "1"]}, path)
    with pytest.raises(InvalidSpecError, match="lacks"):
        parse_spec({**good, "templates": ["a photo of a digit."]}, path)
    with pytest.raises(InvalidSpecError, match="file name"):
        parse_spec(good, tmp_path / "other.json")


def test_datasets_dir_is_the_repository_folder_in_a_checkout():
    assert datasets_dir() == Path(__file__).resolve().parents[1] / "datasets"


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("ALBENCH_DATA")
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "cache"))
    assert resolve_data_root() == tmp_path / "cache" / "data"
    monkeypatch.delenv("ALBENCH_CACHE")
    assert resolve_data_root() == Path.home() / ".cache" / "albench" / "data"


# --- embedded and scikit-learn datasets -----------------------------------------------------


def test_fashion_mnist_mini_is_class_stratified_3000_1000():
    dataset = get_dataset("fashion-mnist-mini")
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == (3000, 1000)
    assert np.bincount(pool.labels).tolist() == [300] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert pool.labels.dtype == np.int64
    assert dataset.class_names[0] == "t-shirt or top" and len(dataset.class_names) == 10
    image, label = test[999]
    assert image.mode == "RGB" and image.size == (28, 28) and label == test.labels[999]


def test_fashion_mnist_mini_file_stays_small():
    assert (datasets_dir() / "data" / "fashion-mnist-mini.npz").stat().st_size < 3_000_000


@needs_fashion
def test_fashion_mnist_mini_images_are_the_documented_originals():
    with np.load(datasets_dir() / "data" / "fashion-mnist-mini.npz") as mini:
        index = mini["test_source_index"]
        full_images = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
        full_labels = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
        assert np.array_equal(mini["test_images"], full_images[index])
        assert np.array_equal(mini["test_labels"], full_labels[index])
        assert np.all(np.diff(index) > 0)


@needs_fashion
def test_fashion_mnist_mini_rebuilds_identically(tmp_path):
    import importlib.util

    script = datasets_dir() / "build_fashion_mnist_mini.py"
    module_spec = importlib.util.spec_from_file_location("build_mini", script)
    builder = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(builder)
    rebuilt = builder.build(FASHION_DIR, tmp_path / "mini.npz")
    with np.load(datasets_dir() / "data" / "fashion-mnist-mini.npz") as committed:
        assert sorted(committed.files) == sorted(rebuilt)
        for key in committed.files:
            assert np.array_equal(committed[key], rebuilt[key]), key


def test_digits_split_sizes_and_stratification():
    from sklearn.datasets import load_digits

    counts = np.bincount(load_digits().target)
    dataset = get_dataset("digits")
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == (1347, 450)
    test_counts = np.bincount(test.labels, minlength=10)
    assert np.all(np.abs(test_counts - counts * 0.25) < 1)
    assert np.array_equal(np.bincount(pool.labels, minlength=10) + test_counts, counts)
    assert dataset.templates == ('a photo of the number: "{}".',)
    image, _ = pool[0]
    assert image.mode == "RGB" and image.size == (8, 8)
    assert set(np.unique(pool.images)) <= {round(v * 255 / 16) for v in range(17)}
    assert pool.images.max() == 255


def test_class_quotas_by_largest_remainder():
    assert class_quotas(np.array([5, 3, 2]), 4).tolist() == [2, 1, 1]
    assert class_quotas(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]
    assert class_quotas(np.array([178, 182]), 90).tolist() == [45, 45]


def test_stratified_split_is_seeded_disjoint_and_complete():
    labels = np.repeat(np.arange(3), [4, 6, 10])
    pool, test = stratified_split(labels, 0.25, np.random.default_rng(0))
    again = stratified_split(labels, 0.25, np.random.default_rng(0))
    other = stratified_split(labels, 0.25, np.random.default_rng(1))
    assert np.array_equal(test, again[1]) and not np.array_equal(test, other[1])
    assert np.bincount(labels[test]).tolist() == [1, 2, 2]  # 5 for (1, 1.5, 2.5): tie to lower id
    assert sorted(np.concatenate([pool, test]).tolist()) == list(range(20))


# --- fingerprints and pickling ---------------------------------------------------------------


def test_array_fingerprint_is_deterministic_and_content_sensitive():
    first = get_dataset("fashion-mnist-mini")
    second = get_dataset("fashion-mnist-mini")
    pool = first.split("pool")
    assert pool.fingerprint == second.split("pool").fingerprint
    assert pool.fingerprint != first.split("test").fingerprint
    assert len(pool.fingerprint) == 64 and int(pool.fingerprint, 16) >= 0
    images = pool.images.copy()
    images[0, 0, 0] ^= 1
    assert ArraySplit(images, pool.labels).fingerprint != pool.fingerprint
    labels = pool.labels.copy()
    labels[:2] = labels[1::-1] if labels[0] != labels[1] else (labels[0] + 1) % 10
    assert ArraySplit(pool.images, labels).fingerprint != pool.fingerprint
    assert ArraySplit(pool.images, pool.labels).fingerprint == pool.fingerprint


def test_splits_do_not_freeze_the_callers_arrays():
    images, labels = np.zeros((2, 4, 4), np.uint8), np.array([0, 1])
    split = ArraySplit(images, labels)
    images[0, 0, 0] = labels[0] = 9
    assert images.flags.writeable and labels.flags.writeable
    assert not split.images.flags.writeable and not split.labels.flags.writeable


def test_file_fingerprint_tracks_names_labels_and_sizes(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.png", i)
    files, labels = ["0.png", "1.png", "2.png"], np.array([0, 1, 2])
    base = FileSplit(tmp_path, files, labels).fingerprint
    assert FileSplit(tmp_path, files, labels).fingerprint == base
    assert FileSplit(tmp_path, files, np.array([0, 1, 1])).fingerprint != base
    assert FileSplit(tmp_path, files[::-1], labels[::-1]).fingerprint != base
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in files:
        (tmp_path / name).rename(moved / name)
    assert FileSplit(moved, files, labels).fingerprint == base  # independent of the root
    write_png(moved / "2.png", 2, size=(9, 9))
    assert FileSplit(moved, files, labels).fingerprint != base
    (moved / "2.png").unlink()
    with pytest.raises(DataNotFoundError, match=r"2\.png"):
        _ = FileSplit(moved, files, labels).fingerprint


def test_splits_pickle_with_items_and_fingerprints(tmp_path):
    write_png(tmp_path / "a" / "x.png", 1)
    splits = [
        get_dataset("digits").split("test"),
        FileSplit(tmp_path, ["a/x.png"], np.array([1])),
    ]
    for split in splits:
        clone = pickle.loads(pickle.dumps(split))
        assert clone.fingerprint == split.fingerprint
        assert np.array_equal(clone.labels, split.labels)
        assert clone[0][1] == split[0][1]
        assert np.array_equal(np.asarray(clone[0][0]), np.asarray(split[0][0]))


def test_index_bounds():
    split = get_dataset("digits").split("test")
    assert split[-1][1] == split.labels[-1]
    with pytest.raises(IndexError):
        split[len(split)]


# --- image folders and CoOp split files ------------------------------------------------------


def make_class_tree(root: Path, per_class: dict[str, int], mode: str = "RGB") -> None:
    for label, (name, count) in enumerate(sorted(per_class.items())):
        for i in range(count):
            write_png(root / name / f"img{i:02d}.png", label, mode=mode)


def test_imagefolder_without_split_folders_is_split_stratified(tmp_path):
    make_class_tree(tmp_path, {"cat": 4, "dog": 8, "bird": 4}, mode="L")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    dataset = get_dataset(f"imagefolder:{tmp_path}")
    assert dataset.class_names == ("bird", "cat", "dog")
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == (12, 4)
    assert np.bincount(test.labels).tolist() == [1, 1, 2]
    assert_items_match_labels(pool, n=12)
    assert "a photo of a {}." in dataset.templates
    again = get_dataset(f"imagefolder:{tmp_path}").split("test")
    assert again.files == test.files


def test_imagefolder_with_train_and_test_folders_and_classnames(tmp_path):
    make_class_tree(tmp_path / "train", {"n01": 3, "n02": 2})
    make_class_tree(tmp_path / "test", {"n01": 1, "n02": 2})
    (tmp_path / "classnames.txt").write_text("n02 great white shark\nn01 tench\n")
    dataset = get_dataset(f"imagefolder:{tmp_path}")
    assert dataset.class_names == ("tench", "great white shark")
    pool, test = dataset.split("pool"), dataset.split("test")
    assert pool.labels.tolist() == [0, 0, 0, 1, 1]
    assert test.labels.tolist() == [0, 1, 1]
    assert test.files == ("test/n01/img00.png", "test/n02/img00.png", "test/n02/img01.png")
    assert_items_match_labels(pool)
    assert_items_match_labels(test)


def test_classnames_txt_forms(tmp_path):
    path = tmp_path / "classnames.txt"
    path.write_text("great white shark\ntench\n")
    assert read_classnames(path, ["b", "a"]) == ("great white shark", "tench")
    path.write_text("a tench\nb carp\n")
    assert read_classnames(path, ["a", "b"]) == ("tench", "carp")
    path.write_text("only one line\n")
    with pytest.raises(InvalidSpecError, match="one per line"):
        read_classnames(path, ["a", "b"])


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DataNotFoundError):
        get_dataset(f"imagefolder:{tmp_path / 'missing'}")
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="no images"):
        get_dataset(f"imagefolder:{tmp_path / 'empty'}")
    (tmp_path / "imagenet" / "images" / "train" / "n01").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match=r"images/val"):
        get_dataset("imagenet", data_root=tmp_path)
    make_class_tree(tmp_path / "train", {"a": 1})
    make_class_tree(tmp_path / "test", {"a": 1, "zebra": 1})
    with pytest.raises(InvalidSpecError, match="zebra"):
        get_dataset(f"imagefolder:{tmp_path}")


def write_coop_split(directory: Path, image_dir: str, split_file: str, names: list[str]) -> dict:
    rows: dict[str, list] = {"train": [], "val": [], "test": []}
    counts = {"train": 2, "val": 1, "test": 1}
    for label, name in enumerate(names):
        folder = name.replace(" ", "_")
        for split, count in counts.items():
            for i in range(count):
                relative = f"{folder}/{split}_{i}.png"
                write_png(directory / image_dir / relative, label % 6)
                rows[split].append([relative, label, name])
    (directory / split_file).write_text(json.dumps(rows))
    return rows


def test_coop_split_file_is_honoured(tmp_path, no_network):
    names = [f"thing_{i}" for i in range(100)]
    rows = write_coop_split(
        tmp_path / "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", names
    )
    dataset = get_dataset("caltech101", data_root=tmp_path, allow_partial=True)
    assert dataset.source == "CoOp split"
    assert dataset.class_names[7] == "thing 7"  # CoOp writes underscores for spaces
    pool, test = dataset.split("pool"), dataset.split("test")
    assert pool.files == tuple(row[0] for row in rows["train"])
    assert pool.labels.tolist() == [row[1] for row in rows["train"]]
    assert test.files == tuple(row[0] for row in rows["test"])
    assert (len(pool), len(test)) == (200, 100)
    image, label = pool[13]
    assert label == 6 and image.getpixel((0, 0)) == color_of(label % 6)


def test_coop_split_class_order_must_match_the_spec(tmp_path):
    spec_names = list(resolve_class_names(load_specs()["eurosat"]))
    write_coop_split(tmp_path / "eurosat", "2750", "split_zhou_EuroSAT.json", spec_names)
    assert get_dataset("eurosat", data_root=tmp_path, allow_partial=True).class_names == tuple(
        spec_names
    )
    write_coop_split(tmp_path / "eurosat", "2750", "split_zhou_EuroSAT.json", spec_names[::-1])
    with pytest.raises(InvalidSpecError, match="orders its classes"):
        get_dataset("eurosat", data_root=tmp_path, allow_partial=True)


def test_torchvision_fallback_reads_a_dtd_layout(tmp_path, no_network):
    spec_names = resolve_class_names(load_specs()["dtd"])
    data = tmp_path / "dtd" / "dtd"
    for split in ("train", "test"):
        lines = []
        for label, name in enumerate(spec_names[:2]):
            write_png(data / "images" / name / f"{name}_{split}.jpg", label)
            lines.append(f"{name}/{name}_{split}.jpg")
        (data / "labels").mkdir(exist_ok=True)
        (data / "labels" / f"{split}1.txt").write_text("\n".join(lines) + "\n")
    dataset = get_dataset("dtd", data_root=tmp_path, allow_partial=True)
    assert dataset.source == "torchvision DTD"
    pool = dataset.split("pool")
    assert pool.files == (
        "dtd/dtd/images/banded/banded_train.jpg",
        "dtd/dtd/images/blotchy/blotchy_train.jpg",
    )
    assert_items_match_labels(pool)
    info = {i.name: i for i in dataset_infos(tmp_path)}["dtd"]
    assert info.source == "torchvision DTD" and (info.pool_size, info.test_size) == (1880, 1880)
    assert (info.pool_found, info.test_found, info.available) == (2, 2, False)  # partial copy


# --- errors ----------------------------------------------------------------------------------


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'fashion-mnist-mini'"):
        get_dataset("fashion-mnist-mnii")


def test_unknown_split_name():
    with pytest.raises(UnknownNameError, match="split 'train'"):
        get_dataset("digits").split("train")


def test_missing_data_raises_one_actionable_line(tmp_path, no_network):
    with pytest.raises(DataNotFoundError) as caught:
        get_dataset("cifar10", data_root=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "--download" in message and str(tmp_path) in message
    with pytest.raises(DataNotFoundError, match=r"split_zhou_SUN397\.json"):
        get_dataset("sun397", data_root=tmp_path)
    with pytest.raises(DataNotFoundError, match="by hand"):
        get_dataset("imagenet", data_root=tmp_path)


def test_missing_idx_files_name_the_debian_package(tmp_path):
    options = {"kind": "idx", "dirs": ["fashion-mnist"], "install": "apt-get install x"}
    source = IdxSource("fashion-mnist", options, tmp_path)
    assert not source.available()
    with pytest.raises(DataNotFoundError, match="apt-get install x or put the idx files in"):
        source.load()


def test_idx_reader_round_trip_and_bad_magic(tmp_path):
    data = np.arange(6, dtype=np.uint8).reshape(2, 3)
    header = bytes([0, 0, 0x08, 2]) + np.array([2, 3], ">u4").tobytes()
    (tmp_path / "ok-idx").write_bytes(header + data.tobytes())
    assert np.array_equal(read_idx(tmp_path / "ok-idx"), data)
    (tmp_path / "bad-idx").write_bytes(b"PK\x03\x04" + data.tobytes())
    with pytest.raises(DataNotFoundError, match="magic"):
        read_idx(tmp_path / "bad-idx")
    (tmp_path / "short-idx").write_bytes(header + data.tobytes()[:4])
    with pytest.raises(DataNotFoundError, match="truncated"):
        read_idx(tmp_path / "short-idx")


# --- listing ---------------------------------------------------------------------------------


def test_infos_and_cli_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    infos = {info.name: info for info in dataset_infos(tmp_path)}
    mini = infos["fashion-mnist-mini"]
    assert (mini.n_classes, mini.pool_size, mini.test_size, mini.available) == (
        10,
        3000,
        1000,
        True,
    )
    assert infos["cifar10"].available is False and infos["cifar10"].source == "torchvision CIFAR10"
    assert main(["datasets", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "fashion-mnist-mini" in line)
    assert "3,000" in row and "1,000" in row and "yes" in row and "embedded" in row
    assert str(tmp_path) in out
