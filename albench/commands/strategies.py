"""`albench strategies`: list registered acquisition strategies, plugins included."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "strategies",
        help="list acquisition strategies (built-in and plugins)",
        description="List every registered strategy with what it needs and where it comes from.",
    )
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    from albench.strategies import strategy_table  # deferred: keeps `albench --help` fast

    table = Table(title="albench strategies")
    for column in ("name", "category", "needs", "origin"):
        table.add_column(column, no_wrap=True)
    table.add_column("reference", overflow="fold", ratio=1)
    for row in strategy_table():
        name = f"{row['name']}(<strategy>)" if row["wraps"] else row["name"]
        needs = ", ".join(row["needs"]) + (" + base" if row["wraps"] else "")
        table.add_row(name, row["category"], needs, row["origin"], row["reference"])
    Console().print(table)
    return 0
