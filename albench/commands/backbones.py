"""`albench backbones`: the backbones albench knows and whether each works offline."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def show(args: argparse.Namespace) -> int:
    from albench.backbones import backbone_infos  # deferred: keeps `albench --help` fast

    table = Table(title="backbones (any open_clip MODEL:TAG or MODEL:/path/to/checkpoint works)")
    for column in ("name", "embed dim", "available offline", "source"):
        table.add_column(column, overflow="fold")
    for info in backbone_infos():
        dim = "?" if info.embed_dim is None else str(info.embed_dim)
        offline = "[green]yes[/green]" if info.available_offline else "[red]no[/red]"
        table.add_row(info.name, dim, offline, info.source)
    Console().print(table)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backbones", help="list backbones, their embedding size and offline availability"
    )
    parser.set_defaults(func=show)
