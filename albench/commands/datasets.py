"""`albench datasets`: list the known datasets, their sizes and whether they load offline.

`--verify NAME` decodes every image of one dataset and names each file that does not decode.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from albench.data import DatasetInfo

#: extra columns: header -> cell text for one dataset (e.g. whether features are cached)
ExtraColumns = Mapping[str, Callable[["DatasetInfo"], str]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "datasets", help="list datasets and whether they load offline", description=__doc__
    )
    parser.add_argument("--data-root", type=Path, help="folder holding downloaded datasets")
    parser.add_argument(
        "--verify",
        metavar="NAME",
        help="decode every image of dataset NAME and list the files that cannot be read",
    )
    parser.set_defaults(func=run)


def _size(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def datasets_table(infos: Sequence[DatasetInfo], extra: ExtraColumns | None = None) -> Table:
    """A rich table with one row per dataset, plus ``extra`` columns."""
    from rich.table import Table

    extra = extra or {}
    table = Table(title="albench datasets (imagefolder:PATH also accepted)")
    table.add_column("name", style="bold")
    for header in ("classes", "pool", "test"):
        table.add_column(header, justify="right")
    table.add_column("on disk", justify="right")
    table.add_column("available offline")
    table.add_column("source")
    for header in extra:
        table.add_column(header)
    for info in infos:
        table.add_row(
            info.name,
            str(info.n_classes),
            _size(info.pool_size),
            _size(info.test_size),
            _found(info),
            _availability(info),
            info.source,
            *(cell(info) for cell in extra.values()),
        )
    return table


def _found(info: DatasetInfo) -> str:
    """Pool / test images of the copy on disk, "-" when there is none."""
    if info.pool_found is None or info.test_found is None:
        return "-"
    return f"{info.pool_found:,} / {info.test_found:,}"


def _availability(info: DatasetInfo) -> str:
    """yes; broken (a copy that does not load); partial (one that differs from the spec); no."""
    if info.available:
        return "yes"
    if info.problem:
        return "broken"
    return "partial" if info.pool_found is not None else "no"


def verify(name: str, data_root: Path | None) -> int:
    """Print one line per unreadable image of ``name``; UnreadableImageError if any."""
    from albench.data import get_dataset
    from albench.data.verify import verify as decode_all
    from albench.errors import UnreadableImageError

    dataset = get_dataset(name, data_root=data_root, allow_partial=True)
    for note in dataset.notes:
        print(f"note: {note}")
    unreadable, seconds = decode_all(dataset)
    for item in unreadable:
        print(item)
    count = sum(len(dataset.split(which)) for which in ("pool", "test"))
    per_thousand = seconds * 1000 / max(count, 1)
    print(f"{name}: decoded {count:,} images in {seconds:.1f} s ({per_thousand:.2f} s per 1,000)")
    if unreadable:
        raise UnreadableImageError(
            f"{len(unreadable)} unreadable image(s) in dataset {name!r}, listed above; replace "
            "them, or pass --skip-unreadable to `albench features` / `albench run`"
        )
    return 0


def run(args: argparse.Namespace, extra: ExtraColumns | None = None) -> int:
    from rich.console import Console

    from albench.data import dataset_infos, resolve_data_root

    if args.verify:
        return verify(args.verify, args.data_root)
    infos = dataset_infos(args.data_root)
    Console().print(datasets_table(infos, extra))
    for info in infos:
        if info.problem:
            print(f"{info.name}: {info.problem}")
    print(f"data root: {resolve_data_root(args.data_root)}")
    return 0
