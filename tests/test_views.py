"""Augmented views: the seeded crops in the feature cache, their keys, and learners on them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from PIL import Image
from runner_fakes import make_inputs, one_thread  # noqa: F401
from scipy import stats
from test_features import FakeBackbone
from torchvision import transforms

from albench import inputs as inputs_module
from albench.augmentation import COOP, Augmentation
from albench.errors import FeatureError, InvalidSpecError
from albench.features import FeatureStore, cache_key, read_manifest
from albench.kernels import unit_rows
from albench.learners import LearnerContext, make_learner
from albench.learners._features import unit_rows as torch_unit_rows
from albench.learners.clip_adapter import ClipAdapter
from albench.learners.coop import CoOpLearner
from albench.learners.views import FeatureViews, ViewDraws
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec

SIDE, INPUT = 24, 8  # images on disk, and the backbone's input size
BICUBIC = transforms.InterpolationMode.BICUBIC


class Images(torch.utils.data.Dataset):
    """Random SIDE x SIDE RGB images, each drawn from its own (seed, index) stream."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.fingerprint = n, seed, f"views-{seed}-{n}"
        self.labels = np.arange(n, dtype=np.int64) % 3

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        rng = np.random.default_rng([self.seed, index])
        pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        return Image.fromarray(pixels, "RGB"), int(self.labels[index])


class Data:
    name = "fake-views"
    class_names = ("cat", "dog", "bird")
    templates = ("a photo of a {}.",)
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    def split(self, name: str) -> Images:
        return {"pool": Images(30, 1), "test": Images(12, 2)}[name]

    def check_test_classes(self) -> None:
        """Every class is in the test split."""


class CroppingBackbone(FakeBackbone):
    """The fake backbone behind a CLIP-like transform: resize, centre crop, normalise."""

    def transform(self):
        return transforms.Compose(
            [
                transforms.Resize(INPUT, interpolation=BICUBIC),
                transforms.CenterCrop(INPUT),
                transforms.ToTensor(),
                transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        )


def views_of(store: FeatureStore, views: int = 3, **options) -> np.ndarray:
    options = {"batch_size": 16, "num_workers": 0, "progress": False, **options}
    return store.augmented_views(CroppingBackbone(), Data(), "pool", views, **options)


def plain_of(store: FeatureStore) -> np.ndarray:
    options = {"batch_size": 16, "num_workers": 0, "progress": False}
    return store.image_features(CroppingBackbone(), Data(), "pool", **options)


@pytest.fixture
def registries(monkeypatch, tmp_path):
    """load_inputs and `albench features` see the fake data and backbone, in a fresh cache."""
    import albench.backbones
    import albench.data

    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(inputs_module, "_LOADED", {})
    monkeypatch.setattr(albench.data, "get_dataset", lambda *a, **k: Data(), raising=False)
    monkeypatch.setattr(
        albench.backbones, "get_backbone", lambda *a, **k: CroppingBackbone(), raising=False
    )
    return FeatureStore(tmp_path / "features")


# --------------------------------------------------------------------------- the cache


def test_one_view_keeps_the_plain_key_and_features(registries):
    store = registries
    fields = {
        "kind": "image",
        "backbone": "fake-backbone",
        "weights": "w1",
        "preprocess": "p1",
        "dataset": "fake-views",
        "split": "pool",
        "fingerprint": "views-1-30",
        "format": 1,
    }
    assert store.image_entry(CroppingBackbone(), Data(), "pool").name == cache_key(fields)
    loaded = inputs_module.load_inputs("fake-views", "fake", views=1)
    assert loaded.pool_views is None and loaded.views == 1
    np.testing.assert_array_equal(loaded.pool_features, plain_of(store))
    assert loaded.feature_keys[0] == cache_key(fields)


def test_view_zero_is_the_plain_features_and_views_are_dassls_crops(registries):
    store = registries
    loaded = inputs_module.load_inputs("fake-views", "fake", views=3)
    assert loaded.views == 3 and loaded.pool_views.shape == (30, 2, 16)
    np.testing.assert_array_equal(loaded.pool_features, plain_of(store))
    backbone, images = CroppingBackbone(), Data().split("pool")
    for view in (1, 2):
        pixels, whole = [], []
        for index in range(len(images)):
            rng = COOP.view_rng("fake-views", "pool", index, view)
            box, flip = COOP.box(SIDE, SIDE, rng), rng.random() < 0.5
            pixels.append(_dassl_train_transform(images[index][0], box, flip))
            whole.append(box == (0, 0, SIDE, SIDE) and not flip)  # the plain view itself
        expected = backbone.encode_image(torch.stack(pixels)).numpy()
        cached = loaded.pool_views[:, view - 1].astype(np.float32)
        np.testing.assert_allclose(cached, expected, atol=2e-3)
        differs = (loaded.pool_views[:, view - 1] != loaded.pool_features).any(axis=1)
        np.testing.assert_array_equal(differs, ~np.array(whole))


def _dassl_train_transform(image: Image.Image, box: tuple, flip: bool) -> torch.Tensor:
    """Dassl's train pipeline from torchvision's own classes, its random draws pinned."""
    pipeline = transforms.Compose(
        [
            transforms.RandomResizedCrop(INPUT, scale=(0.08, 1.0), interpolation=BICUBIC),
            transforms.RandomHorizontalFlip(p=1.0 if flip else 0.0),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    pinned = staticmethod(lambda img, scale, ratio: box)
    with mock.patch.object(transforms.RandomResizedCrop, "get_params", pinned):
        return pipeline(image)


def test_views_do_not_depend_on_batches_or_workers(tmp_path):
    first, second = FeatureStore(tmp_path / "a"), FeatureStore(tmp_path / "b")
    views_of(first, batch_size=5, num_workers=0)
    views_of(second, batch_size=16, num_workers=2)
    entries = [s.views_entry(CroppingBackbone(), Data(), "pool", 3) for s in (first, second)]
    a, b = ((e / "features.npy").read_bytes() for e in entries)
    assert a == b
    manifest = read_manifest(entries[0])
    assert manifest["shape"] == [60, 16] and manifest["fields"]["views"] == 3


@pytest.mark.parametrize(
    "other",
    [
        {"views": 4},
        {"augmentation": Augmentation(scale=(0.5, 1.0))},
        {"augmentation": Augmentation(ratio=(0.5, 2.0))},
        {"augmentation": Augmentation(flip=0.0)},
        {"augmentation": Augmentation(interpolation="bilinear")},
        {"augmentation": Augmentation(seed=1)},
        {"split": "test"},
    ],
    ids=["views", "scale", "ratio", "flip", "interpolation", "seed", "split"],
)
def test_views_key_changes_with_views_and_augmentation_only(tmp_path, other):
    backbone, data = CroppingBackbone(), Data()
    arguments = {"split": "pool", "views": 3, "augmentation": Augmentation(), **other}
    reference = FeatureStore(tmp_path).views_entry(backbone, data, "pool", 3)
    assert FeatureStore(tmp_path).views_entry(CroppingBackbone(), Data(), "pool", 3, COOP) == (
        reference
    )
    assert reference != FeatureStore(tmp_path).image_entry(backbone, data, "pool")
    changed = FeatureStore(tmp_path).views_entry(backbone, data, **arguments)
    assert changed != reference


def test_views_of_a_transform_without_a_centre_crop_are_refused(tmp_path):
    store = FeatureStore(tmp_path)
    with pytest.raises(FeatureError, match="resizes and centre-crops"):
        store.augmented_views(FakeBackbone(), Data(), "pool", 3, num_workers=0, progress=False)
    with pytest.raises(FeatureError, match="views >= 2"):
        views_of(store, views=1)


def test_crop_boxes_follow_torchvision_random_resized_crop():
    """Our numpy draw against torchvision's ``get_params``: same laws, box inside the image."""
    shapes = [(24, 24), (10, 100)]  # square, and one where the centre-crop fallback is common
    for height, width in shapes:
        ours = [
            COOP.box(height, width, np.random.default_rng([7, i]))
            for i in range(2000)
        ]  # fmt: skip
        with torch.random.fork_rng():
            torch.manual_seed(7)
            image = torch.zeros(3, height, width)
            theirs = [
                transforms.RandomResizedCrop.get_params(image, [0.08, 1.0], [3 / 4, 4 / 3])
                for _ in range(2000)
            ]
        for boxes in (ours, theirs):
            top, left, h, w = np.array(boxes).T
            assert (top >= 0).all() and (left >= 0).all()
            assert (top + h <= height).all() and (left + w <= width).all()
        for column in (2, 3):  # heights, widths
            a, b = (np.array(boxes)[:, column] for boxes in (ours, theirs))
            assert stats.ks_2samp(a, b).pvalue > 0.01


# --------------------------------------------------------------------------- learners

DIM = 12


def _context() -> LearnerContext:
    text = np.eye(3, DIM, dtype=np.float32)
    return LearnerContext(class_names=("a", "b", "c"), text_embeddings=text, logit_scale=20.0)


def _tagged_views(n_pool: int = 6, n_views: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Plain features and augmented views of a pool, every (row, view) a distinct unit row."""
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(n_pool, n_views, DIM)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    return rows[:, 0], rows[:, 1:].astype(np.float16)


def _which_view(row: torch.Tensor, candidates: torch.Tensor) -> int:
    """The view ``row`` is (candidates: (K, d) the sample's prepared views)."""
    matches = [k for k in range(len(candidates)) if torch.equal(row, candidates[k])]
    assert len(matches) == 1
    return matches[0]


def test_view_draws_pick_one_view_of_each_sample_per_visit():
    plain, augmented = _tagged_views()
    indices = np.array([5, 1, 3, 0])
    views = FeatureViews(plain[indices], augmented, indices)
    assert np.array_equal(np.asarray(views), plain[indices]) and views.n_views == 3

    def draws(seed: int) -> list[list[int]]:
        draw = ViewDraws(views, torch.as_tensor, lambda: torch.Generator().manual_seed(seed))
        picked = []
        for _ in range(30):
            rows = draw.rows(torch.arange(4))
            picked.append([_which_view(rows[j], draw.stacked[:, j]) for j in range(4)])
        return picked

    first = draws(1)
    assert first == draws(1) and first != draws(2)
    counts = np.bincount(np.ravel(first), minlength=3)
    assert stats.chisquare(counts).pvalue > 0.01
    np.testing.assert_array_equal(views.view(2), unit_rows(augmented[indices, 1]))

    def no_generator() -> torch.Generator:
        raise AssertionError("one view draws nothing")

    single = ViewDraws(plain[indices], torch.as_tensor, no_generator)
    assert torch.equal(single.rows(torch.tensor([2, 0])), torch.as_tensor(plain[indices][[2, 0]]))


def _clip_adapter_inputs(views: FeatureViews | np.ndarray, seed: int) -> list[torch.Tensor]:
    """The rows each training step of clip-adapter saw."""
    seen: list[torch.Tensor] = []

    class Spy(ClipAdapter):
        def _new_adapter(self, rng):
            adapter = super()._new_adapter(rng)
            adapter.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
            return adapter

    Spy(_context(), steps=8).fit(views, np.array([0, 1, 2, 0]), np.random.default_rng(seed))
    return seen


def test_clip_adapter_draws_a_fresh_view_every_step_seeded():
    plain, augmented = _tagged_views()
    indices = np.array([5, 1, 3, 0])
    views = FeatureViews(plain[indices], augmented, indices)
    prepared = ViewDraws(views, torch_unit_rows, torch.Generator)

    def picks(seed: int) -> list[list[int]]:
        steps = _clip_adapter_inputs(views, seed)
        assert len(steps) == 8
        return [[_which_view(x[j], prepared.stacked[:, j]) for j in range(4)] for x in steps]

    first = picks(0)
    assert first == picks(0) and first != picks(1)
    assert all(len({step[j] for step in first}) > 1 for j in range(4))


def test_views_identical_to_the_plain_one_give_the_one_view_fit():
    """Drawing views consumes no randomness the fit used before: with K copies of view 0
    the clip-adapter fit is the plain fit exactly."""
    plain16 = _tagged_views()[0].astype(np.float16)
    copies = np.repeat(plain16[:, None], 2, axis=1)
    base = unit_rows(plain16)  # view 0 as the runner gives it
    indices = np.array([5, 1, 3, 0])
    labels = np.array([0, 1, 2, 0])
    fits = []
    for features in (base[indices], FeatureViews(base[indices], copies, indices)):
        learner = make_learner("clip-adapter", _context(), {"steps": 8})
        learner.fit(features, labels, np.random.default_rng(4))
        fits.append(learner.predict_proba(base))
    np.testing.assert_array_equal(fits[0], fits[1])


def test_linear_probe_minimises_the_mean_loss_over_all_views():
    plain, augmented = _tagged_views()
    indices = np.array([5, 1, 3, 0, 2])
    labels = np.array([0, 1, 2, 0, 1])
    views = FeatureViews(plain[indices], augmented, indices)
    learner = make_learner("linear", _context(), {"max_iter": 50})
    learner.fit(views, labels, np.random.default_rng(0))
    reference = make_learner("linear", _context(), {"max_iter": 50})
    stacked = np.concatenate(views.views())
    reference.fit(stacked, np.tile(labels, 3), np.random.default_rng(0))
    np.testing.assert_allclose(
        learner.predict_proba(plain), reference.predict_proba(plain), atol=1e-6
    )
    plain_fit = make_learner("linear", _context(), {"max_iter": 50})
    plain_fit.fit(plain[indices], labels, np.random.default_rng(0))
    assert not np.allclose(learner.predict_proba(plain), plain_fit.predict_proba(plain))


@pytest.fixture(scope="module")
def prompt_context() -> LearnerContext:
    from albench.backbones import get_backbone

    tiny = get_backbone("tiny-clip")
    names = ("a", "b", "c")
    text = tiny.encode_text([f"a photo of a {name}." for name in names]).numpy()
    return LearnerContext(names, text, tiny.logit_scale, backbone=tiny)


@pytest.mark.usefixtures("one_thread")
def test_coop_draws_one_view_per_sample_per_epoch(prompt_context):
    dim = prompt_context.text_embeddings.shape[1]
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(6, 3, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    plain, augmented = rows[:, 0], rows[:, 1:].astype(np.float16)
    indices = np.array([4, 0, 2, 5])
    views = FeatureViews(plain[indices], augmented, indices)
    candidates = torch.stack([torch.as_tensor(v) for v in views.views()])

    def visits(seed: int) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []

        class Spy(CoOpLearner):
            def loss(self, encoder, adapter, features, labels, index, generator, step):
                for row, sample in zip(features, index.tolist(), strict=True):
                    seen.append((sample, _which_view(row, candidates[:, sample])))
                return super().loss(encoder, adapter, features, labels, index, generator, step)

        learner = Spy(prompt_context, epochs=4, batch_size=2, n_ctx=2)
        learner.fit(views, np.array([0, 1, 2, 0]), np.random.default_rng(seed))
        return seen

    first = visits(0)
    assert len(first) == 16
    for epoch in range(4):  # each epoch visits every sample once
        assert sorted(s for s, _ in first[4 * epoch : 4 * epoch + 4]) == [0, 1, 2, 3]
    per_sample = [{v for s, v in first if s == sample} for sample in range(4)]
    assert all(len(drawn) > 1 for drawn in per_sample)
    assert visits(0) == first and visits(1) != first


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("target", ["complementary", "correctness"])
def test_dual_prompt_fits_on_views_deterministically(prompt_context, target):
    dim = prompt_context.text_embeddings.shape[1]
    rng = np.random.default_rng(6)
    rows = rng.normal(size=(8, 3, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    views = FeatureViews(rows[:, 0], rows[:, 1:].astype(np.float16), np.arange(8))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    options = {"steps": 4, "batch_size": 4, "n_ctx": 2, "negative_target": target, "folds": 2}
    outputs = []
    for seed in (3, 3, 4):
        learner = make_learner("dual-prompt", prompt_context, options)
        learner.fit(views, labels, np.random.default_rng(seed))
        outputs.append(learner.correctness_prob(rows[:, 0]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


# --------------------------------------------------------------------------- the runner


def _with_views(n_views: int):
    plain = make_inputs()
    rng = np.random.default_rng(9)
    noise = rng.normal(scale=0.05, size=(len(plain.pool_labels), n_views - 1, 12))
    augmented = (plain.pool_features[:, None].astype(np.float32) + noise).astype(np.float16)
    return replace(plain, pool_views=augmented)


@pytest.mark.usefixtures("one_thread")
def test_runner_fits_on_views_and_selects_and_evaluates_on_view_zero(monkeypatch):
    from albench.learners.linear_probe import LinearProbe

    seen: dict[str, list] = {"fit": [], "predict": []}
    fit, predict = LinearProbe.fit, LinearProbe.predict_proba

    def spy_fit(self, features, labels, rng):
        seen["fit"].append(features)
        return fit(self, features, labels, rng)

    def spy_predict(self, features):
        seen["predict"].append(type(features))
        return predict(self, features)

    monkeypatch.setattr(LinearProbe, "fit", spy_fit)
    monkeypatch.setattr(LinearProbe, "predict_proba", spy_predict)
    protocol = Protocol(rounds=2, budget="4", initial_size="4", pool_subsample=100, views=3)
    spec = RunSpec("blobs", "fake", "linear", "entropy", 0, protocol=protocol)
    result = run(spec, _with_views(3))
    record = result.selections
    assert [type(f) for f in seen["fit"]] == [FeatureViews] * 3
    labelled = record["initial"] + [i for r in record["rounds"] for i in r["indices"]]
    assert sorted(seen["fit"][-1].indices.tolist()) == sorted(labelled)
    assert set(seen["predict"]) == {np.ndarray}
    assert record["spec"]["views"] == 3
    with pytest.raises(InvalidSpecError, match="3 views per pool image but its inputs hold 1"):
        run(spec, make_inputs())


def test_views_enter_the_run_id_only_above_one():
    base = {"dataset": "d", "backbone": "b", "learner": "linear", "strategy": "random", "seed": 0}
    plain = RunSpec(**base)
    assert RunSpec(**base, protocol=Protocol(views=1)).run_id == plain.run_id
    assert "views" not in plain.identity()
    three = RunSpec(**base, protocol=Protocol(views=3))
    assert three.identity()["views"] == 3 and three.run_id != plain.run_id
    for bad in (0, -1, True, "3", 2.0):
        with pytest.raises(InvalidSpecError, match="views must be a whole number"):
            Protocol(views=bad)


def test_views_from_flags_sweep_files_and_the_pcb_preset(tmp_path, capsys):
    from albench.cli import main
    from albench.commands.sweep_options import sweep_from_file
    from albench.presets import get_preset

    path = tmp_path / "sweep.toml"
    path.write_text('datasets = ["digits"]\nstrategies = ["random"]\n[protocol]\nviews = 4\n')
    assert sweep_from_file(path).protocol.views == 4
    assert get_preset("pcb").protocol["views"] == 8
    assert main(["run", "--dataset=digits", "--strategy=random", "--views=0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "views must be a whole number" in error


def test_a_report_reproduces_views_with_the_flag():
    from albench.report.reproduce import command
    from albench.specs import SweepSpec

    sweep = SweepSpec(("digits",), ("tiny-clip",), ("coop",), ("random",), (0,), Protocol(views=3))
    assert "--views=3" in command(sweep.identity(), "out").split()
    plain = SweepSpec(("digits",), ("tiny-clip",), ("coop",), ("random",), (0,))
    assert "--views" not in command(plain.identity(), "out")


def test_features_command_extracts_views_then_reuses_them(registries, capsys):
    from albench.cli import main

    argv = ["features", "--dataset", "fake", "--backbone", "fake", "--cache", str(registries.root)]
    assert main([*argv, "--views", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    entry = registries.views_entry(CroppingBackbone(), Data(), "pool", 3)
    assert lines[3].startswith("views N=30 K=3 d=16 ")
    assert lines[3].endswith(f"(extracted) {entry}")
    assert main([*argv, "--views", "3"]) == 0
    assert "(cached)" in capsys.readouterr().out.splitlines()[3]
    assert main(argv) == 0
    assert not any(line.startswith("views") for line in capsys.readouterr().out.splitlines())


def test_a_views_file_is_read_back_as_written(tmp_path):
    store = FeatureStore(tmp_path)
    written = views_of(store)
    on_disk = np.load(
        store.views_entry(CroppingBackbone(), Data(), "pool", 3) / "features.npy"
    )  # fmt: skip
    np.testing.assert_array_equal(on_disk.reshape(30, 2, 16), written)
    assert Path(written.filename).name == "features.npy" and not written.flags.writeable


def test_full_data_references_of_a_views_sweep_train_on_the_same_views():
    from albench.reference import reference_specs
    from albench.specs import SweepSpec

    sweep = SweepSpec(
        ("digits",), ("tiny-clip",), ("linear",), ("random",), (0,), Protocol(views=3)
    )
    specs = reference_specs(sweep.identity(), {"digits": 100})
    [full], [zero] = specs["full data"], specs["zero-shot"]
    assert full.protocol.views == 3 and zero.protocol.views == 1
    plain = SweepSpec(("digits",), ("tiny-clip",), ("linear",), ("random",), (0,))
    assert (
        "views" not in reference_specs(plain.identity(), {"digits": 100})["full data"][0].identity()
    )
