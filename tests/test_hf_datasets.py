"""``hf:PATH``: datasets written by Hugging Face ``datasets`` itself (save_to_disk and
Parquet), with class names from the ClassLabel feature and columns named by options."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
from PIL import Image

from albench.cli import main
from albench.data import get_dataset, is_dataset_name
from albench.errors import DataNotFoundError, InvalidSpecError

NAMES = ["cat", "dog", "ship"]


def image(label: int, n: int) -> Image.Image:
    return Image.new("RGB", (4, 3), (60 * label + 10, n, 7))


def split(n_per_class: int, offset: int = 0) -> datasets.Dataset:
    """Images whose red channel encodes the label and green the row, plus a coarse label
    (a ClassLabel before the fine one, so choosing the right column matters)."""
    rows = [(label, n + offset) for n in range(n_per_class) for label in range(3)]
    features = datasets.Features(
        {
            "coarse": datasets.ClassLabel(names=["animal", "vehicle"]),
            "img": datasets.Image(),
            "fine_label": datasets.ClassLabel(names=NAMES),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "coarse": [int(label == 2) for label, _ in rows],
            "img": [image(label, n) for label, n in rows],
            "fine_label": [label for label, _ in rows],
        },
        features=features,
    )


def saved(tmp_path) -> str:
    path = tmp_path / "saved"
    datasets.DatasetDict(train=split(4), test=split(2, offset=100)).save_to_disk(str(path))
    return str(path)


def parquet(tmp_path) -> str:
    path = tmp_path / "hub" / "data"
    path.mkdir(parents=True)
    split(4).to_parquet(str(path / "train-00000-of-00001.parquet"))
    split(2, offset=100).to_parquet(str(path / "test-00000-of-00001.parquet"))
    return str(tmp_path / "hub")


@pytest.mark.parametrize("write", [saved, parquet])
def test_saved_and_parquet_datasets_load_with_classlabel_names(tmp_path, write):
    dataset = get_dataset(f"hf:{write(tmp_path)}(label=fine_label)")
    assert dataset.class_names == tuple(NAMES) and dataset.source == "Hugging Face datasets"
    pool, test = dataset.split("pool"), dataset.split("test")
    assert (len(pool), len(test)) == (12, 6)
    assert pool.labels.tolist() == [0, 1, 2] * 4
    for split_, offset in ((pool, 0), (test, 100)):
        for index in range(len(split_)):
            picture, label = split_[index]
            assert picture.getpixel((0, 0)) == (60 * label + 10, index // 3 + offset, 7)


def test_first_classlabel_is_the_default_and_options_name_columns(tmp_path):
    path = saved(tmp_path)
    assert get_dataset(f"hf:{path}").class_names == ("animal", "vehicle")
    quoted = get_dataset(f"hf:{path}(image='img', label=\"fine_label\")")
    assert quoted.class_names == tuple(NAMES)
    with pytest.raises(InvalidSpecError, match=r"no column 'fine'; columns: \['coarse'"):
        get_dataset(f"hf:{path}(label=fine)")
    with pytest.raises(InvalidSpecError, match="options are image, label, pool, test"):
        get_dataset(f"hf:{path}(labels=fine_label)")


def test_one_split_is_split_stratified_and_missing_paths_say_what_to_do(tmp_path):
    split(8).save_to_disk(str(tmp_path / "one"))
    dataset = get_dataset(f"hf:{tmp_path / 'one'}(label=fine_label)")
    assert (len(dataset.split("pool")), len(dataset.split("test"))) == (18, 6)
    assert np.bincount(dataset.split("test").labels).tolist() == [2, 2, 2]
    with pytest.raises(DataNotFoundError, match="save_to_disk"):
        get_dataset(f"hf:{tmp_path / 'absent'}")
    assert is_dataset_name(f"hf:{tmp_path}") and not is_dataset_name("hf-oops")


def test_split_fingerprints_follow_the_data(tmp_path):
    path = saved(tmp_path)
    first = get_dataset(f"hf:{path}(label=fine_label)").split("pool").fingerprint
    assert get_dataset(f"hf:{path}(label=fine_label)").split("pool").fingerprint == first
    datasets.DatasetDict(train=split(5), test=split(2)).save_to_disk(str(tmp_path / "other"))
    other = get_dataset(f"hf:{tmp_path / 'other'}(label=fine_label)").split("pool").fingerprint
    assert other != first


def test_features_command_encodes_an_hf_dataset_and_names_a_corrupt_row(tmp_path, capsys):
    path = saved(tmp_path)
    argv = ["features", "--backbone", "tiny-clip", "--cache", str(tmp_path / "cache")]
    assert main([*argv, "--dataset", f"hf:{path}(label=fine_label)"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("pool  N=12 ") and out[2].startswith("test  N=6 ")
    broken = split(2).cast_column("img", datasets.Image(decode=False))
    broken = broken.map(
        lambda row, i: {"img": {"bytes": b"" if i == 3 else _png(row)}}, with_indices=True
    )
    broken = broken.cast_column("img", datasets.Image())
    datasets.DatasetDict(train=broken, test=split(1)).save_to_disk(str(tmp_path / "broken"))
    assert main([*argv, "--dataset", f"hf:{tmp_path / 'broken'}(label=fine_label)"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(
        f"albench: error: cannot decode image hf:{tmp_path / 'broken'} train[3] ("
    )


def _png(row: dict) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(row["img"]["bytes"])).save(buffer, format="PNG")
    return buffer.getvalue()
