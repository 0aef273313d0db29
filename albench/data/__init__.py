"""Datasets: specs (class names, prompt templates, sources) and image splits.

``get_dataset(name)`` (a spec name, ``imagefolder:PATH`` or ``hf:PATH``) returns a
:class:`Dataset` whose ``split("pool")`` and
``split("test")`` are :class:`ImageSplit` objects yielding ``(RGB PIL image, label)``.

Names are resolved on first use (PEP 562), so reading the dataset specs
(:mod:`albench.data.spec`) does not import torch, which the image splits need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from albench.data.dataset import Dataset, DatasetInfo
    from albench.data.paths import datasets_dir, resolve_data_root
    from albench.data.registry import dataset_infos, dataset_names, get_dataset, is_dataset_name
    from albench.data.splits import ArraySplit, FileSplit, ImageSplit

_HOMES = {
    "ArraySplit": "splits",
    "Dataset": "dataset",
    "DatasetInfo": "dataset",
    "FileSplit": "splits",
    "ImageSplit": "splits",
    "dataset_infos": "registry",
    "dataset_names": "registry",
    "datasets_dir": "paths",
    "get_dataset": "registry",
    "is_dataset_name": "registry",
    "resolve_data_root": "paths",
}
__all__ = [
    "ArraySplit",
    "Dataset",
    "DatasetInfo",
    "FileSplit",
    "ImageSplit",
    "dataset_infos",
    "dataset_names",
    "datasets_dir",
    "get_dataset",
    "is_dataset_name",
    "resolve_data_root",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
