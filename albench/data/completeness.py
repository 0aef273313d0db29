"""Whether the copy of a dataset on disk is the whole dataset its spec describes.

A partial copy (20 images of EuroSAT's 13,500, a split file whose images were not all
extracted) loads and encodes without complaint, and every accuracy computed on it would be
reported as EuroSAT's. So the images present on disk are counted against the sizes the spec
states for the source that was used, and a copy that differs is refused unless the user
accepts it, in which case only the images present are kept and the dataset records that.
"""

from __future__ import annotations

import numpy as np

from albench.data.dataset import SPLITS, Dataset
from albench.errors import PartialDataError


def found_sizes(dataset: Dataset) -> tuple[int, int]:
    """(pool, test): the images of each split whose file is on disk."""
    pool, test = (dataset.split(s) for s in SPLITS)
    return len(pool) - len(pool.missing()), len(test) - len(test.missing())


def _describe(found: tuple[int, int], expected: tuple[int | None, int | None]) -> str:
    parts = []
    for which, have, want in zip(SPLITS, found, expected, strict=True):
        parts.append(f"{which} {have:,}" + ("" if want is None else f" of {want:,}"))
    return ", ".join(parts) + " images"


def _first_missing(dataset: Dataset, missing: dict[str, np.ndarray]) -> str:
    count = sum(len(indices) for indices in missing.values())
    if not count:
        return ""
    which = next(which for which, indices in missing.items() if len(indices))
    first = dataset.split(which).location(int(missing[which][0]))
    return f"; {count:,} listed files are missing, first {first}"


def check_complete(dataset: Dataset, *, allow_partial: bool = False) -> Dataset:
    """``dataset`` when its files on disk match the spec's sizes; else PartialDataError, or
    with ``allow_partial`` the dataset restricted to the images present (noted)."""
    found = found_sizes(dataset)
    missing = {which: dataset.split(which).missing() for which in SPLITS}
    pairs = zip(found, dataset.expected_sizes, strict=True)
    differs = any(want is not None and want != have for have, want in pairs)
    if not differs and not any(len(indices) for indices in missing.values()):
        return dataset
    summary = _describe(found, dataset.expected_sizes)
    if not allow_partial:
        raise PartialDataError(
            f"dataset {dataset.name!r} ({dataset.source}) is a partial copy: {summary} on disk"
            f"{_first_missing(dataset, missing)}; complete it, or pass --allow-partial to use "
            "the images there are"
        )
    keep = {
        which: np.setdiff1d(np.arange(len(dataset.split(which))), missing[which])
        for which in SPLITS
    }
    return dataset.subset(keep, note=f"partial copy: {summary}")
