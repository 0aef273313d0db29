"""Command-line entry point: parses, dispatches, turns user errors into one line + exit 2.

Each sub-command lives in ``albench.commands.<name>`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func(args) -> int | None``. No logic lives here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from albench import __version__
from albench.errors import AlbenchError

COMMANDS = ("datasets", "backbones", "features", "strategies", "run", "report")
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse already exits 2 on bad usage; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"albench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="albench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"albench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"albench.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except AlbenchError as error:
        print(f"albench: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("albench: interrupted; finished work is kept", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
