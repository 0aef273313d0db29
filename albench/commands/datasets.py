"""`albench datasets`: list the known datasets, their sizes (expected and on disk) and
whether they load offline.

`--verify NAME` decodes every image of one dataset and names each file that does not decode.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from albench.commands.listing import Listing, add_format_option, emit

if TYPE_CHECKING:
    from albench.data import DatasetInfo

COLUMNS = (
    "name",
    "classes",
    "pool",
    "test",
    "pool_on_disk",
    "test_on_disk",
    "available_offline",
    "source",
    "problem",
)


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
    add_format_option(parser)
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from albench.data import dataset_infos, resolve_data_root

    if args.verify:
        return verify(args.verify, args.data_root)
    rows = [
        (
            info.name,
            info.n_classes,
            info.pool_size,
            info.test_size,
            info.pool_found,
            info.test_found,
            _availability(info),
            info.source,
            info.problem,
        )
        for info in dataset_infos(args.data_root)
    ]
    root = resolve_data_root(args.data_root)
    title = f"albench datasets (data root {root}; imagefolder:PATH and hf:PATH also accepted)"
    emit(Listing(title, COLUMNS, rows), args.format)
    return 0
