"""Rebuild ``datasets/data/fashion-mnist-mini.npz`` from the full Fashion-MNIST.

Subset definition (documented in datasets/README.md): one ``numpy.random.default_rng(SEED)``
draws, for the train split and then the test split, for class 0 to 9 in order, the chosen
number of distinct indices of that class (``Generator.choice(..., replace=False)``); each
split keeps its chosen indices in ascending order of the original files. The original
indices are stored next to the images so that anyone can check the subset.

Usage: ``python datasets/build_fashion_mnist_mini.py [SOURCE_DIR] [OUT_FILE]``; SOURCE_DIR
defaults to Debian's ``/usr/share/datasets/fashion-mnist`` (package dataset-fashion-mnist).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from albench.data.idx import find_idx, read_idx

SEED = 20170828  # Fashion-MNIST's arXiv submission date (Xiao et al., arXiv:1708.07747)
PER_CLASS = {"train": 300, "t10k": 100}
SPLIT_NAMES = {"train": "pool", "t10k": "test"}
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "fashion-mnist-mini.npz"


def choose(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Ascending indices with exactly ``per_class`` of each class, classes drawn in order."""
    picks = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for c in range(int(labels.max()) + 1)
    ]
    return np.sort(np.concatenate(picks))


def build(source: Path, out: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    for prefix, per_class in PER_CLASS.items():
        images_path = find_idx(source, f"{prefix}-images-idx3-ubyte")
        labels_path = find_idx(source, f"{prefix}-labels-idx1-ubyte")
        if images_path is None or labels_path is None:
            sys.exit(f"Fashion-MNIST {prefix} idx files not found in {source}")
        images, labels = read_idx(images_path), read_idx(labels_path)
        index = choose(labels, per_class, rng)
        split = SPLIT_NAMES[prefix]
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index].astype(np.uint8)
        arrays[f"{split}_source_index"] = index.astype(np.int32)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz.tmp")
    with os.fdopen(handle, "wb") as stream:
        np.savez_compressed(stream, **arrays)
    Path(tmp).replace(out)
    return arrays


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    built = build(source, out)
    sizes = {k: v.shape for k, v in built.items()}
    print(f"wrote {out} ({out.stat().st_size} bytes): {sizes}")
