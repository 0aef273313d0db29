"""`albench strategies`: list registered acquisition strategies, plugins included."""

from __future__ import annotations

import argparse

from albench.commands.listing import Listing, add_format_option, emit

COLUMNS = ("name", "category", "needs", "options", "origin", "reference")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "strategies",
        help="list acquisition strategies (built-in and plugins)",
        description="List every registered strategy with what it needs, its options and "
        "where it comes from. A wrapper is written name(<strategy>, key=value).",
    )
    add_format_option(parser)
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    from albench.strategies import strategy_table

    table = strategy_table()
    rows = [
        (
            f"{row['name']}(<strategy>)" if row["wraps"] else row["name"],
            row["category"],
            [*row["needs"], *(["base"] if row["wraps"] else [])],
            [f"{key}={value!r}" for key, value in row["options"].items()],
            row["origin"],
            row["reference"],
        )
        for row in table
    ]
    emit(Listing("albench strategies", COLUMNS, rows, records=table), args.format)
    return 0
