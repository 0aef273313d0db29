"""Feature extraction: the FeatureStore pipeline against the bare encoder forward.

Both encode the same images at the same batch size; the pipeline adds decoding and the
backbone transform in DataLoader workers and the float16 cache write. Its throughput should
stay within 10% of the bare forward on pre-made tensors, i.e. extraction is model-bound.
The backbone is the offline one, whose forward costs what a real image tower costs on this
machine; tiny-clip's forward (~40 microseconds an image) would measure only the loader.
"""

from __future__ import annotations

import tempfile
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
ROUNDS = 3


@pytest.fixture(scope="module")
def setting():
    dataset = get_dataset(DATASET)
    backbone = get_backbone(BACKBONE)
    images = dataset.split(SPLIT)
    info = {
        "kind": "extraction",
        "backbone": BACKBONE,
        "dataset": DATASET,
        "images": len(images),
        "batch_size": BATCH_SIZE,
    }
    return dataset, backbone, images, info


def test_extraction_feature_store(benchmark, setting, tmp_path: Path):
    dataset, backbone, images, info = setting

    def fresh_store():
        root = Path(tempfile.mkdtemp(dir=tmp_path))
        return (FeatureStore(root),), {}

    def extract(store):
        return store.image_features(backbone, dataset, SPLIT, batch_size=BATCH_SIZE, progress=False)

    features = benchmark.pedantic(extract, setup=fresh_store, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(info, impl="feature-store")
    assert features.shape == (len(images), backbone.embed_dim)


def test_extraction_raw_forward(benchmark, setting):
    _, backbone, images, info = setting
    transform = backbone.transform()
    pixels = torch.stack([transform(images[i][0]) for i in range(len(images))])

    def forward():
        with torch.inference_mode():
            for start in range(0, len(pixels), BATCH_SIZE):
                backbone.encode_image(pixels[start : start + BATCH_SIZE]).float().cpu()

    benchmark.pedantic(forward, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(info, impl="raw-forward")
