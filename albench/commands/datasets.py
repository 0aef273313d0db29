"""`albench datasets`: list the known datasets, their sizes and whether they load offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from albench.commands.listing import Listing, add_format_option, emit

COLUMNS = ("name", "classes", "pool", "test", "available_offline", "source")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "datasets", help="list datasets and whether they load offline", description=__doc__
    )
    parser.add_argument("--data-root", type=Path, help="folder holding downloaded datasets")
    add_format_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from albench.data import dataset_infos, resolve_data_root

    rows = [
        (info.name, info.n_classes, info.pool_size, info.test_size, info.available, info.source)
        for info in dataset_infos(args.data_root)
    ]
    root = resolve_data_root(args.data_root)
    title = f"albench datasets (data root {root}; imagefolder:PATH also accepted)"
    emit(Listing(title, COLUMNS, rows), args.format)
    return 0
