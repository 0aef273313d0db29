"""Decode every image of a dataset once, to find the files that cannot be read.

A truncated download or a zero-byte file is found otherwise only when extraction reaches it,
possibly hours into an encoding pass. The verification pass decodes each image as
extraction would (``PIL.Image.open`` + ``convert("RGB")``, in DataLoader workers) and names
every file that fails. Its verdict is kept in the cache under the split's fingerprint
(``<cache>/verified/<fingerprint>.json``), so leaving unreadable files out of later loads
costs one ``stat`` per file; a file rewritten with another size changes the fingerprint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.utils.data

from albench.data.dataset import SPLITS, Dataset
from albench.data.splits import UNREADABLE, ImageSplit, unreadable_reason
from albench.files import cache_root, write_atomic

VERIFIED_DIR = "verified"


@dataclass(frozen=True)
class Unreadable:
    """One image that does not decode: its split, index, file and PIL's reason."""

    split: str
    index: int
    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: unreadable image ({self.reason})"


def decode_error(split: ImageSplit, index: int) -> str:
    """Empty when item ``index`` decodes, else PIL's reason (without the path it repeats)."""
    try:
        split[index]
    except UNREADABLE as error:
        return unreadable_reason(error, split.location(index))
    return ""


class _Decode(torch.utils.data.Dataset):
    """The decode errors of a split, item by item, computed in DataLoader workers."""

    def __init__(self, split: ImageSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> str:
        return decode_error(self.split, index)


def _errors(split: ImageSplit, workers: int) -> Iterator[tuple[int, str]]:
    loader = torch.utils.data.DataLoader(
        _Decode(split), batch_size=64, num_workers=workers, collate_fn=list
    )
    start = 0
    for batch in loader:
        for offset, reason in enumerate(batch):
            if reason:
                yield start + offset, reason
        start += len(batch)


def _record(split: ImageSplit) -> Path:
    return cache_root() / VERIFIED_DIR / f"{split.fingerprint}.json"


def find_unreadable(
    split: ImageSplit, name: str, *, workers: int | None = None
) -> list[Unreadable]:
    """Decode every image of ``split`` (named ``name``) and record the verdict."""
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    found = [Unreadable(name, i, split.location(i), why) for i, why in _errors(split, workers)]
    rows = [[item.index, item.reason] for item in found]
    write_atomic(_record(split), json.dumps({"unreadable": rows}).encode())
    return found


def recorded_unreadable(split: ImageSplit, name: str) -> list[Unreadable] | None:
    """The verdict of an earlier verification of this very split, or None."""
    try:
        rows = json.loads(_record(split).read_text(encoding="utf-8"))["unreadable"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [Unreadable(name, int(i), split.location(int(i)), str(why)) for i, why in rows]


def verify(dataset: Dataset, *, workers: int | None = None) -> tuple[list[Unreadable], float]:
    """Every unreadable image of ``dataset`` and the seconds the pass took."""
    start = time.perf_counter()
    found = [
        item
        for which in SPLITS
        for item in find_unreadable(dataset.split(which), which, workers=workers)
    ]
    return found, time.perf_counter() - start


def without_unreadable(dataset: Dataset) -> Dataset:
    """``dataset`` with its unreadable images left out (verified once per split content)."""
    bad: dict[str, list[Unreadable]] = {}
    for which in SPLITS:
        split = dataset.split(which)
        recorded = recorded_unreadable(split, which)
        bad[which] = recorded if recorded is not None else find_unreadable(split, which)
    if not any(bad.values()):
        return dataset
    keep = {
        which: np.setdiff1d(np.arange(len(dataset.split(which))), [u.index for u in bad[which]])
        for which in SPLITS
    }
    left_out = tuple(item.location for which in SPLITS for item in bad[which])
    note = f"{len(left_out)} unreadable image(s) left out"
    return dataset.subset(keep, note=note, left_out=left_out)
