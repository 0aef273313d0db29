"""`albench protocols`: the protocol presets, every value they set and its source.

Run one with ``albench run --protocol NAME ...``; flags, sweep-file fields and inline
learner options override its values. A source that starts with "guess" is one.
"""

from __future__ import annotations

import argparse

from albench.commands.listing import Listing, emit, register_listing

COLUMNS = ("preset", "setting", "value", "source")


def register(subparsers: argparse._SubParsersAction) -> None:
    register_listing(
        subparsers, "protocols", "list protocol presets, their values and sources", __doc__, show
    )


def show(args: argparse.Namespace) -> int:
    from albench.presets import load_presets

    presets = load_presets().values()
    rows = [
        (preset.name, key, value, preset.sources[key])
        for preset in presets
        for key, value in preset.values().items()
    ]
    records = [
        {
            "name": preset.name,
            "summary": preset.summary,
            "reference": preset.reference,
            "values": [
                {"setting": key, "value": value, "source": preset.sources[key]}
                for key, value in preset.values().items()
            ],
            "guesses": preset.guesses(),
            "missing": list(preset.missing),
        }
        for preset in presets
    ]
    title = "albench protocols (albench run --protocol NAME; flags override a preset's values)"
    emit(Listing(title, COLUMNS, rows, records=records), args.format)
    return 0
