"""`albench datasets` (not yet available)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="(not yet available)")
    parser.set_defaults(func=lambda args: print("not yet available") or 2)
