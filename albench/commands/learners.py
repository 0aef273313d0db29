"""`albench learners`: each learner, its paradigm, what it provides and its options.

Learners take options inline, in the same grammar as strategies:
``albench run --learner 'coop(steps=50, class_specific=True)',linear``.
"""

from __future__ import annotations

import argparse

from albench.commands.listing import Listing, emit, register_listing

COLUMNS = ("learner", "paradigm", "provides", "option", "default", "expects", "help")


def register(subparsers: argparse._SubParsersAction) -> None:
    register_listing(
        subparsers, "learners", "list learners, what they provide and their options", __doc__, show
    )


def show(args: argparse.Namespace) -> int:
    from albench.learners import learner_infos

    infos = learner_infos()
    rows = [
        (
            info.name,
            info.paradigm,
            sorted(info.capabilities),
            key,
            repr(spec.default),
            spec.describe(),
            spec.help,
        )
        for info in infos
        for key, spec in info.options.items()
    ]
    records = [
        {
            "name": info.name,
            "paradigm": info.paradigm,
            "provides": sorted(info.capabilities),
            "reference": info.reference,
            "options": [
                {
                    "name": key,
                    "default": spec.default,
                    "expects": spec.describe(),
                    "help": spec.help,
                }
                for key, spec in info.options.items()
            ],
        }
        for info in infos
    ]
    title = "albench learners (one row per option; write learner(option=value, ...))"
    emit(Listing(title, COLUMNS, rows, records=records), args.format)
    return 0
