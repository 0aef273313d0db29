"""Command-line entry point: parses, dispatches, turns user errors into one line + exit 2.

Each sub-command lives in ``albench.commands.<name>`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func(args) -> int | None``. No logic lives here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from albench import __version__
from albench.errors import AlbenchError

DESCRIPTION = """\
albench compares active-learning acquisition strategies for adapting CLIP to a new
image-classification task under one labelling budget, over cached CLIP features, and
writes accuracy-vs-budget curves, AUBC and significance tables as HTML and PDF."""
EPILOG = """\
examples:
  albench datasets                          what is available offline
  albench run --strategy random,entropy,badge --dataset fashion-mnist-mini --seeds 0-2
  albench run --learner 'linear,dual-prompt(steps=10)' --strategy random,dual-prompt ...
  albench run --config examples/demo.toml   a sweep file; flags override its fields
  albench report results/<sweep> --out reports/<sweep>.html --pdf

Run `albench COMMAND --help` for a command's options."""

COMMANDS = (
    "datasets",
    "backbones",
    "features",
    "strategies",
    "learners",
    "protocols",
    "run",
    "report",
)
EXIT_USER_ERROR = 2
#: exit status when the reader of standard output closed it (128 + SIGPIPE, as shells say)
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse already exits 2 on bad usage; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"albench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="albench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
        sys.stdout.flush()  # here, so that a closed pipe is met inside this handler
    except AlbenchError as error:
        print(f"albench: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("albench: interrupted; finished work is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader stopped early (`albench learners | head`): nothing is wrong, say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
