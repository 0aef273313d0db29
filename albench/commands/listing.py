"""Listings for the shell: a table for people, complete JSON or CSV for programs.

``albench datasets | backbones | strategies | learners`` print one :class:`Listing` in the
format asked for with ``--format``. A table (its title, then a header and one line per row)
shows numbers with thousands separators and yes / no; on a terminal it fits the window,
sent to a pipe or a file it is never cut (no ellipsis, every column, columns at least two
spaces apart), so ``albench datasets | grep fashion`` finds the full name. JSON and CSV
carry the plain values. Colour is
used only on a terminal and never when ``NO_COLOR`` is set (rich honours both).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

FORMATS = ("table", "json", "csv")
#: width of a table written to a pipe: wide enough that no cell is ever cut
PIPE_WIDTH = 100_000


@dataclass(frozen=True)
class Listing:
    """Rows of plain values under ``columns`` (snake_case keys; headers show spaces).

    ``records``: what ``--format json`` prints, when it is richer than the rows (nested
    options); the rows themselves otherwise.
    """

    title: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]
    records: list[dict[str, Any]] | None = field(default=None)

    def as_records(self) -> list[dict[str, Any]]:
        if self.records is not None:
            return self.records
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people; json or csv for programs (complete, never cut)",
    )


def register_listing(
    subparsers: argparse._SubParsersAction, name: str, summary: str, description: str, show: Any
) -> None:
    """Add the listing command ``name`` (its description shown as written, ``--format``)."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_format_option(parser)
    parser.set_defaults(func=show)


def emit(listing: Listing, fmt: str, stream: TextIO | None = None) -> None:
    """Print ``listing`` to ``stream`` (standard output) in format ``fmt``."""
    stream = stream or sys.stdout
    if fmt == "json":
        json.dump(listing.as_records(), stream, indent=2, default=str)
        stream.write("\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(listing.columns)
        writer.writerows([[_cell(value) for value in row] for row in listing.rows])
    else:
        _table(listing, stream)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | frozenset | set):
        return ", ".join(map(str, value))
    return str(value)


def _shown(value: Any) -> str:
    """A table cell for people: 3,000 rather than 3000, yes / no, ? for unknown."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "?" if value is None else _cell(value)


def _table(listing: Listing, stream: TextIO) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    terminal = stream.isatty()
    target = stream if terminal else io.StringIO()
    console = Console(file=target, width=None if terminal else PIPE_WIDTH)
    table = Table(
        title=listing.title if terminal else None,
        title_justify="left",
        box=box.SIMPLE_HEAD if terminal else None,
        pad_edge=False,
        padding=(0, 1) if terminal else (0, 2, 0, 0),
    )
    for column in listing.columns:
        wrap = {"overflow": "fold"} if terminal else {"no_wrap": True, "overflow": "ignore"}
        table.add_column(column.replace("_", " "), **wrap)
    for row in listing.rows:
        table.add_row(*(_shown(value) for value in row))
    console.print(table, markup=False, highlight=False, crop=terminal, soft_wrap=not terminal)
    if not terminal:
        stream.write(listing.title + "\n")
        stream.writelines(line.rstrip() + "\n" for line in target.getvalue().splitlines())
