"""FeatureStore: cache hits, keys, corruption, concurrent writers, dtype, prompt ensembling."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from albench import features
from albench.backbones.base import Backbone
from albench.errors import CacheCorruptError
from albench.features import FeatureStore, default_root, read_manifest

IMAGE_SIZE = 8


def to_tensor(image: Image.Image) -> torch.Tensor:
    """Module-level, so DataLoader workers can use it."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class FakeImages(torch.utils.data.Dataset):
    """Random RGB images, each drawn from its own (seed, index) stream."""

    def __init__(self, n: int, seed: int, fingerprint: str):
        self.n, self.seed, self.fingerprint = n, seed, fingerprint
        self.labels = np.arange(n, dtype=np.int64) % 3

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        rng = np.random.default_rng([self.seed, index])
        pixels = rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        return Image.fromarray(pixels, "RGB"), int(self.labels[index])


class FakeDataset:
    name = "fake"
    class_names = ("cat", "dog", "bird")
    templates = ("a photo of a {}.", "a drawing of a {}.", "{}")
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    def __init__(self, fingerprint: str = "fp1"):
        self.fingerprint = fingerprint

    def split(self, name: str) -> FakeImages:
        n, seed = {"pool": (40, 1), "test": (20, 2)}[name]
        return FakeImages(n, seed, f"{self.fingerprint}-{name}")


class FakeBackbone(Backbone):
    """A fixed random projection of pixels; counts calls, optionally slow and logging to a file."""

    id = "fake-backbone"
    embed_dim = 16
    logit_scale = 100.0

    def __init__(self, weights="w1", preprocess="p1", delay=0.0, log_path=None, fail=False):
        self._weights, self._preprocess = weights, preprocess
        self.delay, self.log_path, self.fail = delay, log_path, fail
        generator = torch.Generator().manual_seed(0)
        self.projection = torch.randn(3 * IMAGE_SIZE**2, self.embed_dim, generator=generator)
        self.image_calls = self.text_calls = 0

    @property
    def preprocess_id(self) -> str:
        return self._preprocess

    @property
    def weights_checksum(self) -> str:
        return self._weights

    def transform(self):
        return to_tensor

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        self.image_calls += 1
        if self.log_path:
            with open(self.log_path, "a") as log:
                log.write(f"{os.getpid()}\n")
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("encoder failed")
        return torch.nn.functional.normalize(pixels.flatten(1) @ self.projection, dim=-1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        self.text_calls += 1
        return torch.nn.functional.normalize(torch.stack([_text_vector(t) for t in texts]), dim=-1)

    @property
    def text_tower(self):
        raise NotImplementedError("the feature cache never needs the token-level tower")


def _text_vector(text: str) -> torch.Tensor:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return torch.randn(FakeBackbone.embed_dim, generator=torch.Generator().manual_seed(seed))


def extract(store: FeatureStore, backbone: FakeBackbone, split="pool", dataset=None, **options):
    options = {"batch_size": 16, "num_workers": 0, "progress": False, **options}
    return store.image_features(backbone, dataset or FakeDataset(), split, **options)


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    return FeatureStore(tmp_path / "features")


@pytest.fixture
def new_process(monkeypatch: pytest.MonkeyPatch):
    """Call to forget which checksums were verified, as a fresh process would."""
    return lambda: monkeypatch.setattr(features, "_VERIFIED", set())


def test_default_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path))
    assert default_root() == tmp_path / "features"
    assert FeatureStore().root == tmp_path / "features"


def test_miss_then_hit_returns_read_only_float16_memmap(store):
    backbone = FakeBackbone()
    first = extract(store, backbone)
    calls = backbone.image_calls
    assert calls == 3  # ceil(40 / 16)
    second = extract(store, backbone)
    assert backbone.image_calls == calls
    assert isinstance(second, np.memmap) and second.dtype == np.float16
    assert second.shape == (40, 16) and not second.flags.writeable
    np.testing.assert_array_equal(first, second)

    entry = store.image_entry(backbone, FakeDataset(), "pool")
    assert entry.parent.name == entry.name[:2] and entry.parent.parent == store.root
    on_disk = np.load(entry / "features.npy", allow_pickle=False)
    assert on_disk.dtype == np.float16
    manifest = read_manifest(entry)
    digest = hashlib.sha256((entry / "features.npy").read_bytes()).hexdigest()
    assert manifest["sha256"] == digest and manifest["shape"] == [40, 16]
    assert manifest["fields"]["fingerprint"] == "fp1-pool" and manifest["images_per_second"] > 0


def test_features_are_the_encoder_output_rounded_to_float16(store):
    backbone = FakeBackbone()
    cached = extract(store, backbone, split="test")
    images = FakeDataset().split("test")
    pixels = torch.stack([to_tensor(images[i][0]) for i in range(len(images))])
    expected = backbone.encode_image(pixels).numpy().astype(np.float16)
    np.testing.assert_array_equal(cached, expected)


@pytest.mark.parametrize(
    ("backbone", "dataset"),
    [
        (FakeBackbone(weights="w2"), FakeDataset()),
        (FakeBackbone(preprocess="p2"), FakeDataset()),
        (FakeBackbone(), FakeDataset(fingerprint="fp2")),
    ],
    ids=["weights", "preprocess", "fingerprint"],
)
def test_key_changes_with_what_changes_the_numbers(store, backbone, dataset):
    reference = store.image_entry(FakeBackbone(), FakeDataset(), "pool")
    assert FeatureStore(store.root).image_entry(FakeBackbone(), FakeDataset(), "pool") == reference
    assert store.image_entry(backbone, dataset, "pool") != reference
    assert store.image_entry(FakeBackbone(), FakeDataset(), "test") != reference
    extract(store, FakeBackbone())
    extract(store, backbone, dataset=dataset)
    assert backbone.image_calls == 3


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5:] = bytes(b ^ 0xFF for b in data[-5:])
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncate": lambda entry: _truncate(entry / "features.npy"),
    "flip-bytes": lambda entry: _flip(entry / "features.npy"),
    "delete-manifest": lambda entry: (entry / "manifest.json").unlink(),
    "bad-manifest": lambda entry: (entry / "manifest.json").write_text("{"),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_entry_is_recomputed_identically(store, new_process, caplog, corrupt):
    original = np.array(extract(store, FakeBackbone()))
    entry = store.image_entry(FakeBackbone(), FakeDataset(), "pool")
    size = (entry / "features.npy").stat().st_size
    corrupt(entry)
    new_process()
    backbone = FakeBackbone()
    with caplog.at_level(logging.WARNING, logger="albench.features"):
        again = extract(store, backbone)
    assert backbone.image_calls == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "corrupt" in warnings[0] and str(entry) in warnings[0]
    np.testing.assert_array_equal(again, original)
    assert (entry / "features.npy").stat().st_size == size
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name, f"{entry.name}.lock"]


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_entry_raises_when_recompute_is_off(store, new_process, corrupt):
    extract(store, FakeBackbone())
    entry = store.image_entry(FakeBackbone(), FakeDataset(), "pool")
    corrupt(entry)
    new_process()
    strict = FeatureStore(store.root, recompute_corrupt=False)
    backbone = FakeBackbone()
    with pytest.raises(CacheCorruptError) as raised:
        extract(strict, backbone)
    message = str(raised.value)
    assert "\n" not in message and str(entry) in message and "albench features" in message
    assert backbone.image_calls == 0


def test_checksum_is_verified_once_per_process(store, new_process, monkeypatch):
    hashed = []
    real = features.sha256_file
    monkeypatch.setattr(features, "sha256_file", lambda p: hashed.append(p) or real(p))
    extract(store, FakeBackbone())
    assert len(hashed) == 1  # while writing
    extract(store, FakeBackbone())
    assert len(hashed) == 1
    new_process()
    extract(store, FakeBackbone())
    extract(store, FakeBackbone())
    assert len(hashed) == 2


def test_failed_extraction_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError, match="encoder failed"):
        extract(store, FakeBackbone(fail=True))
    entry = store.image_entry(FakeBackbone(), FakeDataset(), "pool")
    assert [p.name for p in entry.parent.iterdir()] == [f"{entry.name}.lock"]
    assert extract(store, FakeBackbone()).shape == (40, 16)


def test_extraction_is_deterministic_across_runs_and_workers(tmp_path):
    first = FeatureStore(tmp_path / "a")
    second = FeatureStore(tmp_path / "b")
    extract(first, FakeBackbone(), num_workers=0, batch_size=16)
    extract(second, FakeBackbone(), num_workers=2, batch_size=16)
    entries = [s.image_entry(FakeBackbone(), FakeDataset(), "pool") for s in (first, second)]
    a, b = ((e / "features.npy").read_bytes() for e in entries)
    assert a == b


def test_text_features_are_the_prompt_ensemble(store):
    backbone = FakeBackbone()
    cached = store.text_features(backbone, FakeDataset())
    expected = []
    for name in FakeDataset.class_names:
        vectors = [_text_vector(t.replace("{}", name)).numpy() for t in FakeDataset.templates]
        vectors = [v / np.linalg.norm(v) for v in vectors]
        mean = np.mean(vectors, axis=0)
        expected.append(mean / np.linalg.norm(mean))
    assert cached.dtype == np.float32 and cached.shape == (3, 16)
    np.testing.assert_allclose(cached, np.array(expected), rtol=0, atol=1e-6)
    calls = backbone.text_calls
    np.testing.assert_array_equal(store.text_features(backbone, FakeDataset()), cached)
    assert backbone.text_calls == calls


def test_text_key_includes_templates_and_class_names(store):
    class Renamed(FakeDataset):
        class_names = ("cat", "dog", "parrot")

    class Reworded(FakeDataset):
        templates = ("a photo of a {}.",)

    entries = {store.text_entry(FakeBackbone(), d()) for d in (FakeDataset, Renamed, Reworded)}
    assert len(entries) == 3


CHILD = """
import sys, time
from pathlib import Path
sys.path[:0] = [{tests!r}, {repo!r}]
import numpy as np
from test_features import FakeBackbone, FakeDataset, extract
from albench.features import FeatureStore
root, log, ready, name = (Path(a) for a in sys.argv[1:5])
(ready / name).touch()
while len(list(ready.iterdir())) < 2:
    time.sleep(0.01)
features = extract(FeatureStore(root), FakeBackbone(delay=0.5, log_path=log), batch_size=20)
np.save(ready.parent / (name.name + ".npy"), np.asarray(features))
"""


def test_concurrent_writers_extract_once(tmp_path):
    tests, repo = Path(__file__).parent, Path(__file__).parent.parent
    code = CHILD.format(tests=str(tests), repo=str(repo))
    root, log, ready = tmp_path / "cache", tmp_path / "calls.log", tmp_path / "ready"
    ready.mkdir()
    args = [sys.executable, "-c", code, str(root), str(log), str(ready)]
    children = [subprocess.Popen([*args, name]) for name in ("one", "two")]
    assert [child.wait(timeout=300) for child in children] == [0, 0]
    callers = log.read_text().split()
    assert len(callers) == 2 and len(set(callers)) == 1  # two batches, one process
    one, two = np.load(tmp_path / "one.npy"), np.load(tmp_path / "two.npy")
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, extract(FeatureStore(root), FakeBackbone()))
    leftovers = [p.name for p in root.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert leftovers == []


@pytest.fixture
def fake_registries(monkeypatch):
    """`albench features` resolves names through the data and backbone registries."""
    import albench.backbones
    import albench.data

    monkeypatch.setattr(albench.data, "get_dataset", lambda *a, **k: FakeDataset(), raising=False)
    monkeypatch.setattr(
        albench.backbones, "get_backbone", lambda *a, **k: FakeBackbone(), raising=False
    )


def test_features_command_extracts_then_reuses(tmp_path, capsys, fake_registries):
    from albench.cli import main

    argv = ["features", "--dataset", "fake", "--backbone", "fake", "--cache", str(tmp_path)]
    assert main([*argv, "--batch-size", "7"]) == 0
    first = capsys.readouterr().out.splitlines()
    store = FeatureStore(tmp_path)
    pool = store.image_entry(FakeBackbone(), FakeDataset(), "pool")
    assert first[1].startswith("pool  N=40 d=16 ") and first[1].endswith(f"(extracted) {pool}")
    assert first[2].startswith("test  N=20 d=16 ") and "(extracted)" in first[2]
    assert first[3].startswith("text  C=3 d=16 ")
    assert read_manifest(store.text_entry(FakeBackbone(), FakeDataset()))["dtype"] == "float32"
    assert main(argv) == 0
    assert "(cached)" in capsys.readouterr().out.splitlines()[1]


def test_features_command_no_recompute_exits_2_on_corrupt_entry(
    tmp_path, capsys, fake_registries, new_process
):
    from albench.cli import main

    argv = ["features", "--dataset", "fake", "--backbone", "fake", "--cache", str(tmp_path)]
    assert main(argv) == 0
    _flip(
        FeatureStore(tmp_path).image_entry(FakeBackbone(), FakeDataset(), "pool") / "features.npy"
    )
    new_process()
    capsys.readouterr()
    assert main([*argv, "--no-recompute"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "corrupt" in error
    assert main(argv) == 0


def test_tiny_clip_on_digits_is_deterministic_and_normalised(tmp_path):
    from albench.backbones import get_backbone
    from albench.data import get_dataset

    dataset, backbone = get_dataset("digits"), get_backbone("tiny-clip")
    pickle.dumps(backbone.transform())  # DataLoader workers started by spawn need this
    options = {"batch_size": 64, "num_workers": 0, "progress": False}
    stores = [FeatureStore(tmp_path / "a"), FeatureStore(tmp_path / "b")]
    a, b = (s.image_features(backbone, dataset, "test", **options) for s in stores)
    entries = [s.image_entry(backbone, dataset, "test") for s in stores]
    assert a.shape == (450, backbone.embed_dim)
    assert (entries[0] / "features.npy").read_bytes() == (entries[1] / "features.npy").read_bytes()
    np.testing.assert_allclose(np.linalg.norm(a.astype(np.float32), axis=1), 1, atol=2e-3)
    text = stores[0].text_features(backbone, dataset)
    assert text.shape == (10, backbone.embed_dim)
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("size", ["0", "-3", "x"])
def test_features_command_rejects_bad_batch_size(capsys, size):
    from albench.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["features", "--dataset", "d", "--backbone", "b", "--batch-size", size])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"must be a positive integer, got {size}")
