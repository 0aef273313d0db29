"""`albench backbones`: the backbones albench knows and whether each works offline."""

from __future__ import annotations

import argparse

from albench.commands.listing import Listing, add_format_option, emit

COLUMNS = ("name", "embed_dim", "available_offline", "source")


def show(args: argparse.Namespace) -> int:
    from albench.backbones import backbone_infos  # deferred: keeps `albench --help` fast

    rows = [
        (info.name, info.embed_dim, info.available_offline, info.source)
        for info in backbone_infos()
    ]
    title = "backbones (any open_clip MODEL:TAG or MODEL:/path/to/checkpoint works)"
    emit(Listing(title, COLUMNS, rows), args.format)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backbones",
        help="list backbones, their embedding size and offline availability",
        description=__doc__,
    )
    add_format_option(parser)
    parser.set_defaults(func=show)
