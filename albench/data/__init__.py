"""Datasets: specs (class names, prompt templates, sources) and image splits.

``get_dataset(name)`` (a spec name, ``imagefolder:PATH`` or ``hf:PATH``) returns a
:class:`Dataset` whose ``split("pool")`` and ``split("test")`` are :class:`ImageSplit`
objects yielding ``(RGB PIL image, label)``.
"""

from albench.data.dataset import Dataset, DatasetInfo
from albench.data.paths import datasets_dir, resolve_data_root
from albench.data.registry import dataset_infos, dataset_names, get_dataset, is_dataset_name
from albench.data.splits import ArraySplit, FileSplit, ImageSplit

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
