"""Feature extraction: the FeatureStore pipeline against the bare encoder forward.

Both encode the same images at the same batch size; the pipeline adds decoding and the
backbone's preprocessing (PIL work in DataLoader workers, float conversion per batch) and
the float16 cache write. Its throughput should stay within 10% of the bare forward on
pre-made tensors, i.e. extraction is model-bound. The backbone is the offline one, whose
forward costs what a real image tower costs on this machine; tiny-clip's forward (~40
microseconds an image) would measure only the loader.

A difference of a few percent is smaller than the swing of one forward pass between two
minutes on a shared machine, so the two are timed in back-to-back pairs: before each timed
pipeline round, its setup times one bare-forward round. docs/benchmarks.md reports the
median of the per-pair ratios.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import torch

from albench.backbones import get_backbone
from albench.data import get_dataset
from albench.features import FeatureStore

DATASET = "digits"
SPLIT = "test"
BACKBONE = "offline-effnet-minilm"
BATCH_SIZE = 64
PAIRS = 5


@pytest.fixture(scope="module")
def setting():
    dataset = get_dataset(DATASET)
    backbone = get_backbone(BACKBONE)
    images = dataset.split(SPLIT)
    transform = backbone.transform()
    pixels = torch.stack([transform(images[i][0]) for i in range(len(images))])
    with torch.inference_mode():  # one-time costs (class bank, kernel set-up) off the clock
        backbone.encode_image(pixels[:BATCH_SIZE])
    info = {
        "kind": "extraction",
        "backbone": BACKBONE,
        "dataset": DATASET,
        "images": len(images),
        "batch_size": BATCH_SIZE,
    }
    return dataset, backbone, pixels, info


def test_extraction_paired(benchmark, setting, tmp_path: Path):
    dataset, backbone, pixels, info = setting
    raw_seconds: list[float] = []
    pipeline_seconds: list[float] = []

    def raw_forward() -> None:
        with torch.inference_mode():
            for start in range(0, len(pixels), BATCH_SIZE):
                backbone.encode_image(pixels[start : start + BATCH_SIZE]).float().cpu()

    def raw_round_then_fresh_store():
        start = time.perf_counter()
        raw_forward()
        raw_seconds.append(time.perf_counter() - start)
        return (FeatureStore(Path(tempfile.mkdtemp(dir=tmp_path))),), {}

    def extract(store):
        start = time.perf_counter()
        features = store.image_features(
            backbone, dataset, SPLIT, batch_size=BATCH_SIZE, progress=False
        )
        pipeline_seconds.append(time.perf_counter() - start)
        return features

    features = benchmark.pedantic(
        extract, setup=raw_round_then_fresh_store, rounds=PAIRS, iterations=1
    )
    benchmark.extra_info.update(
        info, impl="feature-store", raw_seconds=raw_seconds, pipeline_seconds=pipeline_seconds
    )
    assert features.shape == (len(pixels), backbone.embed_dim)
    assert len(raw_seconds) == len(pipeline_seconds) == PAIRS
