"""Dataset lookup by name: specs in ``datasets/specs`` plus ``imagefolder:PATH`` and
``hf:PATH`` (a Hugging Face ``datasets`` folder or Parquet files)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

# imported for their Source registrations
from albench.data import coop_rules, embedded, folder, idx, torchvision_sets  # noqa: F401
from albench.data.completeness import check_complete, found_sizes
from albench.data.dataset import Dataset, DatasetInfo
from albench.data.hf import PREFIX as HF_PREFIX
from albench.data.hf import load_hf
from albench.data.paths import resolve_data_root
from albench.data.source import Loaded, Source, make_source
from albench.data.spec import (
    DatasetSpec,
    load_specs,
    resolve_class_names,
    resolve_templates,
    template_sets,
)
from albench.data.verify import without_unreadable
from albench.errors import AlbenchError, DataNotFoundError, InvalidSpecError, UnknownNameError

IMAGEFOLDER_PREFIX = "imagefolder:"
IMAGEFOLDER_TEMPLATES = "clip-generic"


def dataset_names() -> list[str]:
    """Names of the datasets with a spec, sorted (``imagefolder:PATH`` is accepted besides)."""
    return sorted(load_specs())


def _spec(name: str) -> DatasetSpec:
    specs = load_specs()
    if name not in specs:
        raise UnknownNameError("dataset", name, specs)
    return specs[name]


def _sources(spec: DatasetSpec, data_root: Path) -> list[Source]:
    return [make_source(spec.name, options, data_root) for options in spec.sources]


def _pick(sources: list[Source], download: bool) -> Source:
    """The first available source, else (when downloading) the first downloadable one."""
    for source in sources:
        if source.available():
            return source
    for source in sources:
        if download and source.downloadable():
            return source
    hints = "; or ".join(source.hint() for source in sources)
    raise DataNotFoundError(f"dataset {sources[0].dataset!r} not found offline: {hints}")


def _check_labels(name: str, loaded: Loaded, n_classes: int) -> None:
    for split in (loaded.pool, loaded.test):
        if len(split) and (split.labels.min() < 0 or split.labels.max() >= n_classes):
            raise InvalidSpecError(f"dataset {name!r}: labels outside 0..{n_classes - 1}")


def _normalise(name: object) -> str:
    return " ".join(str(name).lower().replace("_", " ").split())


def _check_name_order(dataset: str, names: tuple[str, ...], found: tuple | None) -> None:
    """Fail when the data names the spec's classes in another order (labels would shift)."""
    if found is None or len(found) != len(names):
        return
    expected, actual = [_normalise(n) for n in names], [_normalise(n) for n in found]
    if expected != actual and sorted(expected) == sorted(actual):
        raise InvalidSpecError(f"dataset {dataset!r}: the data orders its classes unlike the spec")


def _from_spec(spec: DatasetSpec, data_root: Path, download: bool) -> Dataset:
    return _load_source(spec, _pick(_sources(spec, data_root), download), download)


def _load_source(spec: DatasetSpec, source: Source, download: bool = False) -> Dataset:
    loaded = source.load(download=download)
    names = resolve_class_names(spec) or loaded.class_names
    if names is None or len(names) != spec.n_classes:
        found = "no" if names is None else len(names)
        raise InvalidSpecError(
            f"dataset {spec.name!r}: {source.label} gives {found} class names, spec says "
            f"{spec.n_classes}"
        )
    _check_name_order(spec.name, names, loaded.class_names)
    _check_labels(spec.name, loaded, spec.n_classes)
    return Dataset(
        spec.name,
        names,
        resolve_templates(spec),
        {"pool": loaded.pool, "test": loaded.test},
        source=source.label,
        coop_template=spec.coop_template,
        expected_sizes=source.sizes,
        notes=loaded.notes,
    )


def _from_hf(name: str, data_root: Path) -> Dataset:
    pool, test, names = load_hf(name)
    return Dataset(
        name,
        names,
        template_sets()[IMAGEFOLDER_TEMPLATES],
        {"pool": pool, "test": test},
        source="Hugging Face datasets",
    )


def _from_folder(name: str, data_root: Path) -> Dataset:
    path = Path(name.removeprefix(IMAGEFOLDER_PREFIX)).expanduser()
    source = make_source(name, {"kind": "folder", "dir": str(path.resolve())}, data_root)
    loaded = source.load()
    assert loaded.class_names is not None  # folders always name their classes
    _check_labels(name, loaded, len(loaded.class_names))
    return Dataset(
        name,
        loaded.class_names,
        template_sets()[IMAGEFOLDER_TEMPLATES],
        {"pool": loaded.pool, "test": loaded.test},
        source=source.label,
    )


#: name prefixes of datasets given by a path rather than a spec, and their loaders
PATH_DATASETS: dict[str, Callable[[str, Path], Dataset]] = {
    IMAGEFOLDER_PREFIX: _from_folder,
    HF_PREFIX: _from_hf,
}


def is_dataset_name(name: str) -> bool:
    """Whether ``name`` is a spec name or a path dataset (``imagefolder:``, ``hf:``)."""
    return name in load_specs() or name.startswith(tuple(PATH_DATASETS))


def get_dataset(
    name: str,
    *,
    data_root: str | os.PathLike | None = None,
    download: bool = False,
    allow_partial: bool = False,
    skip_unreadable: bool = False,
) -> Dataset:
    """The dataset called ``name`` (a spec name or ``imagefolder:PATH``).

    Data is looked for under ``data_root`` (else ``$ALBENCH_DATA``, else
    ``$ALBENCH_CACHE/data``, else ``~/.cache/albench/data``); the network is used only when
    ``download`` is true. A copy whose images on disk differ from the spec's sizes is
    refused unless ``allow_partial`` (:mod:`albench.data.completeness`);
    ``skip_unreadable`` leaves out the images that do not decode (:mod:`albench.data.verify`).
    Both are recorded in ``Dataset.notes``.
    """
    root = resolve_data_root(data_root)
    prefix = next((p for p in PATH_DATASETS if name.startswith(p)), None)
    if prefix is not None:
        dataset = PATH_DATASETS[prefix](name, root)
    else:
        dataset = _from_spec(_spec(name), root, download)
    dataset = check_complete(dataset, allow_partial=allow_partial)
    return without_unreadable(dataset) if skip_unreadable else dataset


def _info(spec: DatasetSpec, root: Path) -> DatasetInfo:
    """The spec's sizes beside those of the copy on disk (loaded, images not decoded)."""
    sources = _sources(spec, root)
    usable = [source for source in sources if source.available()]
    shown = (usable or sources)[0]
    info = DatasetInfo(spec.name, spec.n_classes, *shown.sizes, bool(usable), shown.label)
    if not usable:
        return info
    try:
        pool, test = found_sizes(_load_source(spec, shown))
    except AlbenchError as error:
        return replace(info, available=False, problem=str(error))
    complete = (pool, test) == shown.sizes or None in shown.sizes
    return replace(info, available=complete, pool_found=pool, test_found=test)


def dataset_infos(data_root: str | os.PathLike | None = None) -> list[DatasetInfo]:
    """One :class:`DatasetInfo` per spec; a copy that is there is loaded to count its images
    (a partial or corrupt copy is not available)."""
    root = resolve_data_root(data_root)
    return [_info(spec, root) for _, spec in sorted(load_specs().items())]
