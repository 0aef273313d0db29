"""Features a run works on: :class:`RunInputs` and their checks, and loading them from the
feature cache (pool, test and class text embeddings).

Loading goes through :class:`~albench.features.FeatureStore`, so images are encoded at most
once per (backbone, dataset, split); a process keeps what it loaded for the next run of the
same (dataset, backbone), which is what parallel sweep workers do. With ``views`` K > 1 the
pool's K - 1 augmented views (:mod:`albench.augmentation`) are loaded beside its plain
features; the test split is always one plain view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from albench.errors import FeatureError
from albench.features import first_nonfinite_row


@dataclass(frozen=True)
class RunInputs:
    """Cached features a run works on.

    ``pool_features`` / ``test_features``: (N, d) image features (any float dtype; learners
    re-normalise); ``text_embeddings``: (C, d) normalised class embeddings; ``backbone``:
    only needed by prompt learners. ``images``: ``"pool"`` / ``"test"`` -> the image split
    behind those features (row i is feature row i), for learners that train on pixels
    (visual prompt tuning); None when the inputs are features only. ``pool_views``:
    (N, K - 1, d) augmented views 1..K-1 of each pool image (view 0 is ``pool_features``),
    None for one view.
    """

    pool_features: np.ndarray
    pool_labels: np.ndarray
    test_features: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    text_embeddings: np.ndarray
    logit_scale: float
    backbone: Any = None
    device: str = "cpu"
    #: identities of the cached features (cache keys); a sweep refuses to resume on others
    feature_keys: tuple[str, ...] = ()
    images: Callable[[str], Any] | None = None
    pool_views: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_inputs(self)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def views(self) -> int:
        """Views per pool image: 1 (plain) + the augmented ones."""
        return 1 if self.pool_views is None else 1 + int(np.shape(self.pool_views)[1])


def check_inputs(inputs: RunInputs) -> None:
    """FeatureError unless the arrays agree in length and dimension and are all finite.

    Features from the cache were checked when their entry was verified, but a caller may
    inject any arrays, and a NaN would otherwise surface rounds later as a learner's obscure
    error. The scan reads the arrays once per construction (once per process for a sweep).
    """
    where = f"run inputs (cache entries {', '.join(inputs.feature_keys)})"
    where = where if inputs.feature_keys else "run inputs"
    named = {
        "pool features": inputs.pool_features,
        "test features": inputs.test_features,
        "text embeddings": inputs.text_embeddings,
    }
    for name, array in named.items():
        if np.ndim(array) != 2:
            raise FeatureError(f"{where}: {name} have shape {np.shape(array)}, not (n, d)")
    dims = {name: np.shape(array)[1] for name, array in named.items()}
    if len(set(dims.values())) > 1:
        shown = ", ".join(f"{name} {dim}" for name, dim in dims.items())
        raise FeatureError(f"{where}: feature dimensions disagree ({shown})")
    for split, labels in (("pool", inputs.pool_labels), ("test", inputs.test_labels)):
        if len(labels) != len(named[f"{split} features"]):
            raise FeatureError(
                f"{where}: {len(named[f'{split} features'])} {split} features but "
                f"{len(labels)} {split} labels"
            )
    if len(inputs.class_names) != len(inputs.text_embeddings):
        raise FeatureError(
            f"{where}: {len(inputs.class_names)} classes but "
            f"{len(inputs.text_embeddings)} text embeddings"
        )
    for name, array in named.items():
        row = first_nonfinite_row(array)
        if row is not None:
            raise FeatureError(f"{where}: {name} hold NaN or inf (row {row})")
    if inputs.pool_views is not None:
        _check_views(inputs.pool_views, len(inputs.pool_features), dims["pool features"], where)


def _check_views(views: np.ndarray, n_pool: int, dim: int, where: str) -> None:
    """FeatureError unless ``views`` is (n_pool, K - 1 >= 1, dim) and finite."""
    shape = np.shape(views)
    if len(shape) != 3 or shape[0] != n_pool or shape[1] < 1 or shape[2] != dim:
        raise FeatureError(
            f"{where}: pool views have shape {shape}, not ({n_pool}, views - 1, {dim})"
        )
    row = first_nonfinite_row(np.reshape(views, (-1, dim)))
    if row is not None:
        raise FeatureError(f"{where}: pool views hold NaN or inf (pool row {row // shape[1]})")


def extract_features(
    dataset: str,
    backbone: str,
    *,
    data_root: str | None = None,
    download: bool = False,
    device: str = "cpu",
    progress: bool = True,
    allow_partial: bool = False,
    skip_unreadable: bool = False,
    views: int = 1,
) -> None:
    """Make sure the cache holds pool, test and text features (encoding what is missing).

    ``allow_partial`` / ``skip_unreadable``: take a copy that differs from the dataset's
    spec, or leave out images that do not decode (``albench.data.get_dataset``).
    ``views``: views per pool image (K > 1 adds the augmented ones).
    """
    access = DataAccess(data_root, allow_partial, skip_unreadable)
    _LOADED[(dataset, backbone, access, device, views)] = _build(
        dataset, backbone, access, download, device, progress, views
    )


def load_inputs(
    dataset: str,
    backbone: str,
    *,
    data_root: str | None = None,
    device: str = "cpu",
    allow_partial: bool = False,
    skip_unreadable: bool = False,
    views: int = 1,
) -> RunInputs:
    """:class:`RunInputs` of ``dataset`` encoded by ``backbone`` with ``views`` views per pool
    image (kept for the process)."""
    access = DataAccess(data_root, allow_partial, skip_unreadable)
    key = (dataset, backbone, access, device, views)
    if key not in _LOADED:
        _LOADED[key] = _build(dataset, backbone, access, False, device, False, views)
    return _LOADED[key]


@dataclass(frozen=True)
class DataAccess:
    """Where a dataset is and which copy of it is acceptable (see ``get_dataset``)."""

    data_root: str | None = None
    allow_partial: bool = False
    skip_unreadable: bool = False

    def dataset(self, name: str, download: bool = False) -> Any:
        from albench.data import get_dataset

        return get_dataset(
            name,
            data_root=self.data_root,
            download=download,
            allow_partial=self.allow_partial,
            skip_unreadable=self.skip_unreadable,
        )


class DatasetImages:
    """``"pool"`` / ``"test"`` -> the image split of a dataset, loaded on first use.

    Only learners that train on pixels (visual prompt tuning) ask, so a sweep of
    feature-space learners never keeps a dataset's images in memory.
    """

    def __init__(self, dataset: str, access: DataAccess):
        self.dataset, self.access = dataset, access
        self._loaded: Any = None

    def __call__(self, which: str) -> Any:
        if self._loaded is None:
            self._loaded = self.access.dataset(self.dataset)
        return self._loaded.split(which)


#: (dataset, backbone, data access, device, views) -> inputs loaded by this process
_LOADED: dict[tuple[str, str, DataAccess, str, int], RunInputs] = {}


def _build(
    dataset_name: str,
    backbone_spec: str,
    access: DataAccess,
    download: bool,
    device: str,
    progress: bool,
    views: int = 1,
) -> RunInputs:
    from albench.backbones import get_backbone
    from albench.features import FeatureStore

    dataset = access.dataset(dataset_name, download)
    dataset.check_test_classes()
    backbone = get_backbone(backbone_spec, device=device)
    store = FeatureStore()
    pool = store.image_features(backbone, dataset, "pool", progress=progress)
    test = store.image_features(backbone, dataset, "test", progress=progress)
    augmented = (
        store.augmented_views(backbone, dataset, "pool", views, progress=progress)
        if views > 1
        else None
    )
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
        images=DatasetImages(dataset_name, access),
        pool_views=augmented,
    )
