"""`albench datasets`: list the known datasets, their sizes and whether they load offline."""

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
            "yes" if info.available else "no",
            info.source,
            *(cell(info) for cell in extra.values()),
        )
    return table


def run(args: argparse.Namespace, extra: ExtraColumns | None = None) -> int:
    from rich.console import Console

    from albench.data import dataset_infos, resolve_data_root

    Console().print(datasets_table(dataset_infos(args.data_root), extra))
    print(f"data root: {resolve_data_root(args.data_root)}")
    return 0
