"""Checks before a sweep: partial copies, unreadable images, `albench datasets --verify`,
`--allow-partial` and `--skip-unreadable`, on small hand-made copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from albench.cli import main
from albench.data import dataset_infos, get_dataset
from albench.data import spec as spec_module
from albench.data.spec import load_specs, resolve_class_names
from albench.errors import PartialDataError
from albench.features import read_manifest

EUROSAT = list(resolve_class_names(load_specs()["eurosat"]))


def write_png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")


def eurosat_copy(root: Path, present: int | None = None) -> Path:
    """CoOp's EuroSAT layout: 2 pool and 1 test image per class; only the first ``present``
    listed files exist (all when None)."""
    folder = root / "eurosat"
    rows: dict[str, list] = {"train": [], "val": [], "test": []}
    for label, name in enumerate(EUROSAT):
        for split, count in (("train", 2), ("test", 1)):
            for i in range(count):
                rows[split].append([f"{name.replace(' ', '')}/{split}_{i}.png", label, name])
    listed = [row[0] for split in ("train", "test") for row in rows[split]]
    for index, relative in enumerate(listed[:present]):
        write_png(folder / "2750" / relative, index)
    (folder / "split_zhou_EuroSAT.json").write_text(json.dumps(rows))
    return folder


@pytest.fixture
def small_eurosat_spec(monkeypatch):
    """The eurosat spec with the sizes of the small copy (20 pool, 10 test images)."""
    specs = dict(load_specs())
    source = {**specs["eurosat"].sources[0], "sizes": [20, 10]}
    specs["eurosat"] = spec_module.DatasetSpec(
        **{**specs["eurosat"].__dict__, "sources": (source,)}
    )
    monkeypatch.setattr("albench.data.registry.load_specs", lambda: specs)


def test_a_partial_copy_is_refused_in_one_line(tmp_path):
    folder = eurosat_copy(tmp_path, present=20)
    with pytest.raises(PartialDataError) as caught:
        get_dataset("eurosat", data_root=tmp_path)
    assert str(caught.value) == (
        "dataset 'eurosat' (CoOp split) is a partial copy: pool 20 of 13,500, test 0 of 8,100 "
        f"images on disk; 10 listed files are missing, first {folder}/2750/AnnualCropLand/"
        "test_0.png; complete it, or pass --allow-partial to use the images there are"
    )
    accepted = get_dataset("eurosat", data_root=tmp_path, allow_partial=True)
    assert (len(accepted.split("pool")), len(accepted.split("test"))) == (20, 0)
    assert accepted.notes == ("partial copy: pool 20 of 13,500, test 0 of 8,100 images",)


def test_datasets_lists_the_sizes_on_disk_beside_the_expected(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    eurosat_copy(tmp_path, present=25)
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"not a pickle")
    infos = {info.name: info for info in dataset_infos(tmp_path)}
    eurosat = infos["eurosat"]
    assert (eurosat.pool_size, eurosat.test_size) == (13500, 8100)
    assert (eurosat.pool_found, eurosat.test_found, eurosat.available) == (20, 5, False)
    assert not infos["cifar10"].available and "corrupted" in infos["cifar10"].problem
    assert main(["datasets", "--data-root", str(tmp_path), "--format", "json"]) == 0
    records = {record["name"]: record for record in json.loads(capsys.readouterr().out)}
    eurosat_record = records["eurosat"]
    assert (eurosat_record["pool_on_disk"], eurosat_record["test_on_disk"]) == (20, 5)
    assert eurosat_record["available_offline"] == "partial"
    assert records["cifar10"]["available_offline"] == "broken"
    assert records["cifar10"]["problem"] == infos["cifar10"].problem
    assert main(["datasets", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.startswith("eurosat "))
    assert "13,500" in row and "8,100" in row and " 20 " in row and "partial" in row


def test_a_complete_copy_is_available(tmp_path, small_eurosat_spec):
    eurosat_copy(tmp_path)
    info = {info.name: info for info in dataset_infos(tmp_path)}["eurosat"]
    assert (info.pool_found, info.test_found, info.available) == (20, 10, True)
    assert get_dataset("eurosat", data_root=tmp_path).notes == ()


def features_cli(tmp_path: Path, dataset: str, *options: str) -> int:
    argv = ["features", "--dataset", dataset, "--backbone", "tiny-clip", "--batch-size", "4"]
    return main([*argv, "--data-root", str(tmp_path), "--cache", str(tmp_path / "cache"), *options])


def test_features_refuses_a_partial_copy_unless_allowed(tmp_path, capsys):
    eurosat_copy(tmp_path, present=25)
    assert features_cli(tmp_path, "eurosat") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is a partial copy: pool 20 of 13,500" in error
    assert not (tmp_path / "cache").exists()
    assert features_cli(tmp_path, "eurosat", "--allow-partial") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "note: partial copy: pool 20 of 13,500, test 5 of 8,100 images"
    assert out[2].startswith("pool  N=20 ") and out[3].startswith("test  N=5 ")
    entry = Path(out[2].split()[-1])
    assert read_manifest(entry)["dataset_notes"] == [out[1].removeprefix("note: ")]


def broken_folder(root: Path) -> tuple[Path, Path, Path]:
    """An image folder (2 classes, 4 images each) with a zero-byte and a truncated PNG."""
    for label in ("a", "b"):
        for i in range(4):
            write_png(root / label / f"{i}.png", 10 * ord(label) + i, size=40)
    zero, truncated = root / "a" / "1.png", root / "b" / "2.png"
    zero.write_bytes(b"")
    truncated.write_bytes(truncated.read_bytes()[:200])
    return root, zero, truncated


def test_an_unreadable_image_stops_extraction_in_one_line_with_nothing_cached(tmp_path, capsys):
    root, zero, _ = broken_folder(tmp_path / "images")
    assert features_cli(tmp_path, f"imagefolder:{root}") == 2
    error = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert error.startswith(
        f"albench: error: cannot decode image {zero} (cannot identify image file); nothing"
    )
    assert error.rstrip().endswith(
        f"nothing was cached; list every unreadable file with `albench datasets --verify "
        f"imagefolder:{root}`, or leave them out with --skip-unreadable"
    )
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert cached == []


def test_skip_unreadable_leaves_them_out_and_records_which(tmp_path, capsys):
    root, zero, truncated = broken_folder(tmp_path / "images")
    assert features_cli(tmp_path, f"imagefolder:{root}", "--skip-unreadable") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == [
        "note: 2 unreadable image(s) left out",
        f"left out: {zero}",  # in the pool of the seeded split
        f"left out: {truncated}",  # in the test split
    ]
    pool_n, test_n = (int(line.split()[1].removeprefix("N=")) for line in out[4:6])
    assert pool_n + test_n == 6
    manifest = read_manifest(Path(out[4].split()[-1]))
    assert manifest["left_out"] == [str(zero), str(truncated)]


def test_verify_names_every_unreadable_file(tmp_path, capsys):
    root, zero, truncated = broken_folder(tmp_path / "images")
    assert main(["datasets", "--verify", f"imagefolder:{root}"]) == 2
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[:2] == [
        f"{zero}: unreadable image (cannot identify image file)",
        f"{truncated}: unreadable image (image file is truncated)",
    ]
    assert out[2].startswith(f"imagefolder:{root}: decoded 8 images in ")
    assert captured.err == (
        f"albench: error: 2 unreadable image(s) in dataset 'imagefolder:{root}', listed above; "
        "replace them, or pass --skip-unreadable to `albench features` / `albench run`\n"
    )
    write_png(zero, 1)
    truncated.unlink()
    write_png(truncated, 2)
    assert main(["datasets", "--verify", f"imagefolder:{root}"]) == 0


def test_run_refuses_a_partial_copy_before_any_work(tmp_path, capsys):
    eurosat_copy(tmp_path, present=25)
    argv = ["run", "--strategy", "random", "--dataset", "eurosat", "--backbone", "tiny-clip"]
    argv += ["--learner", "zero-shot", "--seeds", "0", "--rounds", "1"]
    status = main([*argv, "--data-root", str(tmp_path), "--out", str(tmp_path / "results")])
    assert status == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("albench: error: dataset 'eurosat' (CoOp split) is a partial copy")
    assert not (tmp_path / "results" / "runs").exists()


def test_skip_unreadable_reuses_the_recorded_verdict(tmp_path, monkeypatch):
    root, zero, truncated = broken_folder(tmp_path / "images")
    first = get_dataset(f"imagefolder:{root}", skip_unreadable=True)
    assert first.left_out == (str(zero), str(truncated))

    def decode_again(*args, **kwargs):
        raise AssertionError("the verdict of the first pass was not reused")

    monkeypatch.setattr("albench.data.verify.find_unreadable", decode_again)
    again = get_dataset(f"imagefolder:{root}", skip_unreadable=True)
    assert again.left_out == first.left_out
    assert again.split("pool").fingerprint == first.split("pool").fingerprint


def test_run_refuses_a_partial_copy_unless_allowed_and_records_the_permission(
    tmp_path, capsys, small_eurosat_spec
):
    from albench.results import read_sweeps

    folder = eurosat_copy(tmp_path)
    for missing in sorted((folder / "2750").rglob("train_1.png"))[:2]:
        missing.unlink()  # 18 of the spec's 20 pool images
    out = tmp_path / "results"
    argv = ["run", "--dataset=eurosat", "--backbone=tiny-clip", "--strategy=random", "--seeds=0"]
    argv += ["--rounds=1", "--budget=2", "--initial-size=2", f"--data-root={tmp_path}"]
    assert main([*argv, f"--out={out}"]) == 2
    assert "partial copy: pool 18 of 20" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv, f"--out={out}", "--allow-partial"]) == 0
    [record] = read_sweeps(out)
    assert record["spec"]["allow_partial"] is True and "skip_unreadable" not in record["spec"]
