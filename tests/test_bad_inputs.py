"""Hostile and mistaken input through the real CLI: one line, exit 2, nothing written lost.

Every test starts from a finished sweep (computed once per module through ``albench run`` on
a tiny image folder and a fixed random-projection backbone), gives the CLI one bad input,
and checks the exit status, the one error line and that the finished results are
byte-for-byte and mtime-for-mtime what they were. docs/reliability.md lists these tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

import albench.backbones
import albench.checks
from albench import features, inputs
from albench.backbones.base import Backbone
from albench.cli import main
from albench.errors import FeatureError
from albench.features import FeatureStore, read_manifest
from albench.guard import MIN_LIMIT_SECONDS, SelectGuard, is_built_in
from albench.results import RUNS_DIR
from albench.strategies import get_strategy

HERE = Path(__file__).resolve().parent
PLUGINS = HERE / "bad_plugins.py"
SIZE = 8
CLASSES = ("ant", "bee", "cat")
POOL_PER_CLASS, TEST_PER_CLASS = 8, 3
#: three runs small enough to finish in about a second: 3 classes, 3 rounds of 3 labels
SWEEP = ["--backbone", "fake", "--learner", "zero-shot", "--seeds", "0-2", "--rounds", "3"]


# --------------------------------------------------------------------------- fakes


def to_tensor(image: Image.Image) -> torch.Tensor:
    """Module-level, so DataLoader workers can use it."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class FakeBackbone(Backbone):
    """A fixed random projection of 8x8 pixels; ``nan=True`` encodes every image as NaN."""

    id = "fake"
    embed_dim = 16
    logit_scale = 100.0

    def __init__(self, nan: bool = False):
        self.nan = nan
        generator = torch.Generator().manual_seed(0)
        self.projection = torch.randn(3 * SIZE**2, self.embed_dim, generator=generator)

    @property
    def preprocess_id(self) -> str:
        return "to_tensor"

    @property
    def weights_checksum(self) -> str:
        return "nan" if self.nan else "w1"

    def transform(self):
        return to_tensor

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        features = torch.nn.functional.normalize(pixels.flatten(1) @ self.projection, dim=-1)
        return features * float("nan") if self.nan else features

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        vectors = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            generator = torch.Generator().manual_seed(seed)
            vectors.append(torch.randn(self.embed_dim, generator=generator))
        return torch.nn.functional.normalize(torch.stack(vectors), dim=-1)

    @property
    def text_tower(self):
        raise NotImplementedError("no prompt learners in these tests")


def image_folder(root: Path, test_classes: Sequence[str] = CLASSES) -> Path:
    """``root/{train,test}/<class>/*.png``: 8x8 images, brighter for later classes."""
    rng = np.random.default_rng(0)
    for split, per_class, classes in (
        ("train", POOL_PER_CLASS, CLASSES),
        ("test", TEST_PER_CLASS, test_classes),
    ):
        for label, name in enumerate(CLASSES):
            if name not in classes:
                continue
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 80, (SIZE, SIZE, 3)) + 80 * label
                Image.fromarray(pixels.astype(np.uint8), "RGB").save(folder / f"{i}.png")
    return root


FAKES = ("fake", "fake-nan")


def use_fake_backbones(patch: pytest.MonkeyPatch) -> None:
    """``fake`` and ``fake-nan`` resolve to FakeBackbone; every other name to the registry."""

    def get_backbone(spec: str, *, device: str = "cpu") -> Backbone:
        if spec in FAKES:
            return FakeBackbone(nan=spec == "fake-nan")
        return _REAL_GET_BACKBONE(spec, device=device)

    def check_backbone_name(spec: str) -> str:
        return spec if spec in FAKES else _REAL_CHECK_BACKBONE(spec)

    patch.setattr(albench.backbones, "get_backbone", get_backbone)
    patch.setattr(albench.checks, "check_backbone_name", check_backbone_name)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A data folder, a filled feature cache and a finished sweep, made once per module."""
    root = tmp_path_factory.mktemp("world")
    data = image_folder(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALBENCH_CACHE", str(root / "cache"))
        use_fake_backbones(patch)
        patch.setattr(inputs, "_LOADED", {})
        argv = ["--strategy", "random", "--dataset", f"imagefolder:{data}", *SWEEP]
        assert main(["run", *argv, "--out", str(root / "results")]) == 0
    return root


_REAL_GET_BACKBONE = albench.backbones.get_backbone
_REAL_CHECK_BACKBONE = albench.backbones.check_backbone_name


class Env:
    """One test's copies of the cache and the finished results, and the module's data."""

    def __init__(self, world: Path, tmp_path: Path):
        self.data = world / "data"
        self.cache = shutil.copytree(world / "cache", tmp_path / "cache")
        self.results = shutil.copytree(world / "results", tmp_path / "results")
        self.tmp = tmp_path

    @property
    def dataset(self) -> str:
        return f"imagefolder:{self.data}"

    def entry(self, split: str) -> Path:
        """The feature-cache entry of a split of the module's data (``text`` for texts)."""
        from albench.data import get_dataset

        dataset, store = get_dataset(self.dataset), FeatureStore(self.cache / "features")
        if split == "text":
            return store.text_entry(FakeBackbone(), dataset)
        return store.image_entry(FakeBackbone(), dataset, split)


@pytest.fixture
def env(world, tmp_path, monkeypatch, capsys) -> Env:
    """This test's copy of the world, fresh process-level caches, captured output cleared."""
    env = Env(world, tmp_path)
    monkeypatch.setenv("ALBENCH_CACHE", str(env.cache))
    use_fake_backbones(monkeypatch)
    monkeypatch.setattr(inputs, "_LOADED", {})
    monkeypatch.setattr(features, "_VERIFIED", set())
    capsys.readouterr()
    return env


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file below ``folder`` (lock files excluded)."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


def cli(*argv: str) -> int:
    """``albench ARGV`` in-process; argparse's own refusals exit through SystemExit."""
    try:
        return main(list(argv))
    except SystemExit as exited:
        return int(exited.code)


def error_line(capsys) -> str:
    """The one ``albench: error:`` line, which must end stderr; no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("albench: error:")]
    assert len(errors) == 1 and err.endswith(errors[0] + "\n"), err
    return errors[0]


def refuse_run(env: Env, capsys, *argv: str, dataset: str | None = None) -> str:
    """``albench run`` with ``argv`` appended to the finished sweep's arguments (later flags
    win) into its folder: exit 2, one error line, the finished results untouched."""
    before = snapshot(env.results)
    argv = ("--strategy", "random", "--dataset", dataset or env.dataset, *SWEEP, *argv)
    status = cli("run", *argv, "--out", str(env.results))
    line = error_line(capsys)
    assert status == 2
    assert snapshot(env.results) == before
    return line


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("flag", "name", "suggested"),
    [
        ("--strategy", "entropyy", "entropy"),
        ("--dataset", "digitz", "digits"),
        ("--backbone", "tiny-clp", "tiny-clip"),
        ("--learner", "linaer", "linear"),
    ],
    ids=["strategy", "dataset", "backbone", "learner"],
)
def test_unknown_name_suggests_the_closest(env, capsys, flag, name, suggested):
    line = refuse_run(env, capsys, flag, name)
    assert f"unknown {flag[2:]} {name!r}; did you mean {suggested!r}?" in line


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("0", "budget must be at least 1 label per round"),
        ("0/class", "budget must be at least 1 label per round"),
        ("-1", "budget must be a whole number or 'k/class'"),
        ("1.5", "budget must be a whole number or 'k/class'"),
        ("²", "budget must be a whole number or 'k/class'"),
    ],
)
def test_budget_below_one_or_not_a_count(env, capsys, budget, message):
    assert message in refuse_run(env, capsys, "--budget", budget)


@pytest.mark.parametrize("rounds", ["0", "-2"])
def test_rounds_below_one(env, capsys, rounds):
    assert f"rounds must be at least 1, got {rounds}" in refuse_run(env, capsys, "--rounds", rounds)


@pytest.mark.parametrize(
    "seeds",
    [
        "3-1",
        "a",
        "1--2",
        "",
        "-1",
        "0-2,",
        "²",
        "١",
    ],
)
def test_malformed_seed_ranges(env, capsys, seeds):
    assert f"bad seeds {seeds!r}" in refuse_run(env, capsys, "--seeds", seeds)


def test_seed_range_too_large(env, capsys):
    line = refuse_run(env, capsys, "--seeds", "0-99999999999")
    assert "seed range '0-99999999999' holds more than 10000 seeds" in line


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("mps", "albench runs on cpu or cuda"),
        ("gpu", "unknown device 'gpu'; use cpu, cuda or cuda:N"),
        ("cuda", "device 'cuda': no CUDA device is visible on this machine"),
    ],
)
def test_device_this_machine_lacks(env, capsys, monkeypatch, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert message in refuse_run(env, capsys, "--device", device)


def test_budget_larger_than_the_pool_is_refused_not_clamped(env, capsys):
    line = refuse_run(env, capsys, "--budget", "4/class")
    pool = len(CLASSES) * POOL_PER_CLASS
    assert f"3 initial + 3 rounds x 12 labels = 39 exceeds the pool of {pool} images" in line


def test_pool_subsample_below_one(env, capsys):
    line = refuse_run(env, capsys, "--pool-subsample", "0")
    assert "pool subsample must be a positive number of images" in line


# --------------------------------------------------------------------------- data


def test_class_without_test_images(env, capsys):
    folder = image_folder(env.tmp / "no-cat", test_classes=CLASSES[:2])
    line = refuse_run(env, capsys, dataset=f"imagefolder:{folder}")
    assert "1 class(es) have no test images: 'cat'" in line
    assert _no_entry_for(env, folder)


def _no_entry_for(env: Env, folder: Path) -> bool:
    """True when no cache entry holds features of ``folder`` (nothing was encoded)."""
    names = {
        read_manifest(entry)["fields"]["dataset"]
        for entry in (env.cache / "features").glob("*/*")
        if entry.is_dir() and not entry.name.startswith(".")
    }
    return f"imagefolder:{folder}" not in names


# --------------------------------------------------------------------------- feature cache


def _features_file(entry: Path) -> Path:
    return entry / "features.npy"


def _refresh_manifest(entry: Path) -> None:
    """Make the manifest describe the rewritten features (size, shape, checksum all agree)."""
    path = _features_file(entry)
    manifest = read_manifest(entry)
    manifest.update(
        shape=list(np.load(path, mmap_mode="r").shape),
        bytes=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    (entry / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _truncate(entry: Path) -> None:
    path = _features_file(entry)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _nan_in_row_2(entry: Path) -> None:
    array = np.load(_features_file(entry)).copy()
    array[2, 5] = np.nan
    np.save(_features_file(entry), array)
    _refresh_manifest(entry)


def _dimension_8(entry: Path) -> None:
    np.save(_features_file(entry), np.load(_features_file(entry))[:, :8].copy())
    _refresh_manifest(entry)


#: a way to damage a cache entry -> what the error says about it
CACHE_FAULTS = {
    "truncated": (_truncate, "manifest says"),
    "nan": (_nan_in_row_2, "NaN or inf in row 2"),
    "dimension": (_dimension_8, "features of shape (24, 8), the backbone gives dimension 16"),
}


@pytest.mark.parametrize("kind", CACHE_FAULTS)
def test_damaged_cache_entry_is_refused_with_no_recompute(env, capsys, kind):
    damage, reason = CACHE_FAULTS[kind]
    entry = env.entry("pool")
    damage(entry)
    before, results = snapshot(entry), snapshot(env.results)
    status = cli("features", "--dataset", env.dataset, "--backbone", "fake", "--no-recompute")
    line = error_line(capsys)
    assert status == 2
    assert f"feature cache entry {entry} is corrupt (" in line and reason in line
    assert f"rebuild it with `albench features --dataset {env.dataset} --backbone fake`" in line
    assert snapshot(entry) == before and snapshot(env.results) == results


@pytest.mark.parametrize("kind", CACHE_FAULTS)
def test_damaged_cache_entry_is_recomputed_by_run(env, capsys, caplog, kind):
    damage, reason = CACHE_FAULTS[kind]
    entry = env.entry("pool")
    good = _features_file(entry).read_bytes()
    damage(entry)
    runs = snapshot(env.results / RUNS_DIR)
    argv = ["--strategy", "random", "--dataset", env.dataset, *SWEEP]
    assert cli("run", *argv, "--out", str(env.results)) == 0
    assert f"feature cache entry {entry} is corrupt (" in caplog.text and reason in caplog.text
    assert _features_file(entry).read_bytes() == good
    assert snapshot(env.results / RUNS_DIR) == runs
    assert "0 runs computed, 3 already done" in capsys.readouterr().out


def test_text_entry_of_another_dimension_is_refused(env, capsys):
    entry = env.entry("text")
    _dimension_8(entry)
    status = cli("features", "--dataset", env.dataset, "--backbone", "fake", "--no-recompute")
    assert status == 2
    assert f"{entry} is corrupt (features of shape (3, 8)" in error_line(capsys)


def test_backbone_that_encodes_nan_caches_nothing(env, capsys):
    before = snapshot(env.cache)
    line = refuse_run(env, capsys, "--backbone", "fake-nan")
    assert (
        f"backbone fake gave unusable features for {env.dataset} pool (NaN or inf in row 0); "
        "nothing was cached"
    ) in line
    assert snapshot(env.cache) == before


def test_injected_features_of_disagreeing_dimensions():
    from runner_fakes import make_inputs

    good = make_inputs()
    with pytest.raises(FeatureError, match=r"dimensions disagree \(pool features 12, test feat"):
        replace(good, test_features=good.test_features[:, :8])


def test_injected_features_with_inf():
    from runner_fakes import make_inputs

    good = make_inputs()
    pool = good.pool_features.copy()
    pool[5, 3] = np.inf
    with pytest.raises(FeatureError, match=r"pool features hold NaN or inf \(row 5\)"):
        replace(good, pool_features=pool)


# --------------------------------------------------------------------------- plugins

#: plugin class in tests/bad_plugins.py -> (round it fails in, what the error says)
PLUGIN_FAULTS = {
    "Raises": (1, "raised ValueError: no centroids to rank"),
    "Duplicates": (1, "returned an index twice"),
    "OutOfRange": (1, "returned an index outside 0..23: 24"),
    "AlreadyLabelled": (1, "returned an already labelled index"),
    "TooMany": (1, "returned 4 indices for a budget of 3 (too many)"),
    "TooFew": (1, "returned 2 indices for a budget of 3 (too few)"),
    "Floats": (1, "indices must be integers, got float64 (e.g. "),
    "NotASelection": (1, "returned list, not a Selection"),
    "BadPseudoLabels": (1, "returned a pseudo-label outside 0..2: 3"),
    "HangsInRound3": (3, "select() still running after 1 s, over 10x its usual"),
}


@pytest.mark.parametrize("plugin", PLUGIN_FAULTS)
def test_broken_plugin_is_named_with_its_round_and_finished_runs_stay(env, capsys, plugin):
    round_, message = PLUGIN_FAULTS[plugin]
    spec = f"{PLUGINS}:{plugin}"
    out = env.tmp / "with-plugin"
    argv = ["--strategy", f"random,{spec}", "--dataset", env.dataset, *SWEEP, "--seeds", "0"]
    where = re.compile(rf"strategy {re.escape(repr(spec))} in round {round_} of run [0-9a-f]{{16}}")
    assert cli("run", *argv, "--out", str(out)) == 2
    first = error_line(capsys)
    assert where.search(first) and message in first
    runs = snapshot(out / RUNS_DIR)
    assert len([name for name in runs if name.endswith(".parquet")]) == 1  # random's run
    assert cli("run", *argv, "--out", str(out)) == 2  # the finished run is skipped, kept
    second = error_line(capsys)
    assert where.search(second)[0] == where.search(first)[0] and message in second
    assert snapshot(out / RUNS_DIR) == runs


def test_only_plugins_are_timed_and_their_limit_is_ten_medians_or_one_second():
    plugin = get_strategy(f"{PLUGINS}:TooFew")
    assert is_built_in(get_strategy("pcb(badge)"))
    assert not is_built_in(plugin) and not is_built_in(get_strategy(f"pcb({PLUGINS}:TooFew)"))
    guard = SelectGuard(plugin, "p", "run", n_pool=10, n_classes=2)
    assert guard.limit() is None  # round 1: nothing to compare with
    guard.seconds += [0.2, 0.9, 0.3]
    assert guard.limit() == pytest.approx(3.0)
    guard.seconds[:] = [0.001]
    assert guard.limit() == MIN_LIMIT_SECONDS == 1.0
    built_in = SelectGuard(get_strategy("random"), "random", "run", n_pool=10, n_classes=2)
    built_in.seconds += [0.001]
    assert built_in.limit() is None


# --------------------------------------------------------------------------- report


def _truncate_file(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _csv_instead(path: Path) -> None:
    path.write_text("run_id,accuracy\n1,0.5\n", encoding="utf-8")


def _without_accuracy(path: Path) -> None:
    pq.write_table(pq.read_table(path).drop_columns(["accuracy"]), path)


#: a way to damage one of three result files -> what the report says about it
REPORT_FAULTS = {
    "truncated": (_truncate_file, "unreadable Parquet"),
    "not-parquet": (_csv_instead, "unreadable Parquet"),
    "wrong-schema": (_without_accuracy, "missing column(s) accuracy"),
}


@pytest.mark.parametrize("kind", REPORT_FAULTS)
def test_report_stops_naming_the_damaged_results_file(env, capsys, kind):
    damage, reason = REPORT_FAULTS[kind]
    victim = sorted((env.results / RUNS_DIR).glob("*.parquet"))[1]
    damage(victim)
    out = env.tmp / "reports" / "sweep.html"
    out.parent.mkdir()
    out.write_text("the earlier report", encoding="utf-8")
    before = snapshot(env.results), snapshot(out.parent)
    status = cli("report", str(env.results), "--out", str(out), "--pdf")
    line = error_line(capsys)
    assert status == 2
    assert f"1 of 3 results files cannot be read, so no report was written: {victim} (" in line
    assert reason in line and "Delete it and repeat the `albench run`" in line
    assert (snapshot(env.results), snapshot(out.parent)) == before
    victim.unlink()  # what the message advises: the run is recomputed, the others kept
    argv = ["--strategy", "random", "--dataset", env.dataset, *SWEEP]
    assert cli("run", *argv, "--out", str(env.results)) == 0
    assert "1 runs computed, 2 already done" in capsys.readouterr().out
