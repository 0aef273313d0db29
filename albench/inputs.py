"""Features a run works on, from the feature cache: pool, test and class text embeddings.

Loading goes through :class:`~albench.features.FeatureStore`, so images are encoded at most
once per (backbone, dataset, split); a process keeps what it loaded for the next run of the
same (dataset, backbone), which is what parallel sweep workers do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from albench.runner import RunInputs


def extract_features(
    dataset: str,
    backbone: str,
    *,
    data_root: str | None = None,
    download: bool = False,
    device: str = "cpu",
    progress: bool = True,
) -> None:
    """Make sure the cache holds pool, test and text features (encoding what is missing)."""
    key = (dataset, backbone, data_root, device)
    _LOADED[key] = _build(dataset, backbone, data_root, download, device, progress)


def load_inputs(
    dataset: str, backbone: str, *, data_root: str | None = None, device: str = "cpu"
) -> RunInputs:
    """:class:`RunInputs` of ``dataset`` encoded by ``backbone`` (kept for the process)."""
    key = (dataset, backbone, data_root, device)
    if key not in _LOADED:
        _LOADED[key] = _build(dataset, backbone, data_root, False, device, False)
    return _LOADED[key]


class DatasetImages:
    """``"pool"`` / ``"test"`` -> the image split of a dataset, loaded on first use.

    Only learners that train on pixels (visual prompt tuning) ask, so a sweep of
    feature-space learners never keeps a dataset's images in memory.
    """

    def __init__(self, dataset: str, data_root: str | None):
        self.dataset, self.data_root = dataset, data_root
        self._loaded: Any = None

    def __call__(self, which: str) -> Any:
        if self._loaded is None:
            from albench.data import get_dataset

            self._loaded = get_dataset(self.dataset, data_root=self.data_root)
        return self._loaded.split(which)


#: (dataset, backbone, data_root, device) -> inputs loaded by this process
_LOADED: dict[tuple[str, str, str | None, str], RunInputs] = {}


def _build(
    dataset_name: str,
    backbone_spec: str,
    data_root: str | None,
    download: bool,
    device: str,
    progress: bool,
) -> RunInputs:
    from albench.backbones import get_backbone
    from albench.data import get_dataset
    from albench.features import FeatureStore

    dataset = get_dataset(dataset_name, data_root=data_root, download=download)
    dataset.check_test_classes()
    backbone = get_backbone(backbone_spec, device=device)
    store = FeatureStore()
    pool = store.image_features(backbone, dataset, "pool", progress=progress)
    test = store.image_features(backbone, dataset, "test", progress=progress)
    return RunInputs(
        pool_features=pool,
        pool_labels=np.asarray(dataset.split("pool").labels, dtype=np.int64),
        test_features=test,
        test_labels=np.asarray(dataset.split("test").labels, dtype=np.int64),
        class_names=tuple(dataset.class_names),
        text_embeddings=store.text_features(backbone, dataset),
        logit_scale=float(backbone.logit_scale),
        backbone=backbone,
        device=device,
        feature_keys=(
            store.image_entry(backbone, dataset, "pool").name,
            store.image_entry(backbone, dataset, "test").name,
            store.text_entry(backbone, dataset).name,
        ),
        images=DatasetImages(dataset_name, data_root),
    )
