"""A :class:`~albench.specs.SweepSpec` from ``albench run``'s flags and an optional sweep file.

A sweep file (TOML, read with :mod:`tomllib`) holds the same fields as the flags::

    name = "demo"
    datasets = ["fashion-mnist-mini"]
    backbones = ["offline-effnet-minilm"]
    learners = ["linear", "dual-prompt(steps=10)"]
    strategies = ["random", "entropy", "pcb(badge)"]
    seeds = "0-2"                  # or a list of integers
    scenarios = ["", "noisy-oracle(rate=0.1)"]   # optional: scenarios to cross ("": none)
    learner_options = { warm_start = false }

    [protocol]
    rounds = 8
    budget = "1/class"
    views = 4                      # cached views per pool image (albench.augmentation)

A flag given on the command line overrides the file's value of that field; what neither
gives takes the protocol preset's value (``--protocol NAME`` or ``preset = "NAME"``, see
:mod:`albench.presets`), then the defaults below. A preset's learner options apply to its
own learner only, under the options the file, the flags or the learner spec give.
Everything here is checked without importing torch.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from albench.errors import InvalidSpecError
from albench.options import format_call, parse_pair, split_top_level
from albench.presets import Preset, get_preset
from albench.protocol import Protocol
from albench.specs import SweepSpec, split_learner, sweep_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published apart before Python 3.11
    import tomli as tomllib

#: defaults of the fields that neither the command line nor the sweep file sets
DEFAULTS: dict[str, Any] = {
    "backbones": "offline-effnet-minilm",
    "learners": "linear",
    "seeds": "0-4",
}
#: sweep-file key -> ``albench run`` flag (for messages)
FLAGS = {
    "datasets": "--dataset",
    "backbones": "--backbone",
    "learners": "--learner",
    "strategies": "--strategy",
    "seeds": "--seeds",
    "name": "--name",
    "learner_options": "--learner-option",
    "preset": "--protocol",
    "scenarios": "--scenario",
}
#: the protocol's fields a flag or ``[protocol]`` sets (the preset has its own key)
PROTOCOL_FIELDS = tuple(field.name for field in fields(Protocol) if field.name != "preset")

_RANGE = re.compile(r"^([0-9]+)-([0-9]+)$")
_SEED = re.compile(r"^[0-9]+$")
#: more seeds than this in one sweep is a typo (e.g. 0-99999), not a protocol
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-4"``, ``"0,3,7"``, ``"0-2,5"`` -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        bounds = _RANGE.match(part)
        if bounds and int(bounds[1]) <= int(bounds[2]):
            first, last = int(bounds[1]), int(bounds[2])
            if last - first >= MAX_SEEDS:
                raise InvalidSpecError(f"seed range {part!r} holds more than {MAX_SEEDS} seeds")
            seeds.update(range(first, last + 1))
        elif _SEED.match(part):
            seeds.add(int(part))
        else:
            raise InvalidSpecError(f"bad seeds {text!r}: use ranges and lists like 0-4 or 0-2,5")
    return tuple(sorted(seeds))


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """A comma list of specs split at top-level commas (``pcb(badge, candidates=8)`` stays
    whole), blanks refused, order kept, duplicates dropped."""
    return tuple(dict.fromkeys(split_top_level(str(text), f"{what} list")))


def read_sweep_file(path: str | Path) -> dict[str, Any]:
    """The fields of a sweep file, each checked; InvalidSpecError (one line) for any problem,
    even in a field a flag will override."""
    path = Path(path)
    where = f"sweep file {str(path)!r}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidSpecError(f"cannot read {where}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidSpecError(f"{where} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - {*FLAGS, "protocol"})
    if unknown:
        known = ", ".join(sorted({*FLAGS, "protocol"}))
        raise InvalidSpecError(f"{where}: unknown key {unknown[0]!r}; known: {known}")
    protocol = data.get("protocol", {})
    if not isinstance(protocol, Mapping) or set(protocol) - set(PROTOCOL_FIELDS):
        raise InvalidSpecError(f"{where}: [protocol] takes {', '.join(PROTOCOL_FIELDS)}")
    if not isinstance(data.get("learner_options", {}), Mapping):
        raise InvalidSpecError(f"{where}: learner_options is a table of key = value")
    for key in ("name", "preset"):
        if not isinstance(data.get(key, ""), str):
            raise InvalidSpecError(f"{where}: {key} is a string")
    for key in ("datasets", "backbones", "learners", "strategies"):
        if key in data:
            data[key] = _as_list(data[key], f"{where}: {key}")
    if "seeds" in data:
        data["seeds"] = _as_seeds(data["seeds"])
    if "scenarios" in data:
        data["scenarios"] = _as_list(data["scenarios"], f"{where}: scenarios")
    return data


def _as_list(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return parse_list(value, what)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(dict.fromkeys(v.strip() for v in value))
    raise InvalidSpecError(f"{what} must be a comma list or a list of strings, not {value!r}")


def _as_seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, list) and all(type(v) is int for v in value):
        return parse_seeds(",".join(map(str, value)))
    if isinstance(value, str | int) and not isinstance(value, bool):
        return parse_seeds(str(value))
    raise InvalidSpecError(f"seeds must be ranges like 0-4 or a list of integers, not {value!r}")


def sweep_from_file(path: str | Path) -> SweepSpec:
    """The sweep a sweep file describes (defaults for what it leaves out)."""
    return build_sweep(read_sweep_file(path))


def sweep_from_args(args: argparse.Namespace) -> SweepSpec:
    """The sweep of ``albench run``'s flags over its ``--config`` file, if any."""
    fields = read_sweep_file(args.config) if args.config else {}
    flags = {
        "datasets": args.dataset,
        "backbones": args.backbone,
        "learners": args.learner,
        "strategies": args.strategy,
    }
    fields.update({key: parse_list(text, key) for key, text in flags.items() if text is not None})
    if args.seeds is not None:
        fields["seeds"] = parse_seeds(args.seeds)
    if args.name is not None:
        fields["name"] = args.name
    if args.protocol is not None:
        fields["preset"] = args.protocol
    flagged = [k for k in PROTOCOL_FIELDS if k != "scenario" and getattr(args, k) is not None]
    protocol = {**fields.get("protocol", {}), **{k: getattr(args, k) for k in flagged}}
    if args.scenario is not None:  # the flag replaces the file's scenario or scenarios
        protocol.pop("scenario", None)
        fields["scenarios"] = parse_list(args.scenario, "--scenario")
    fields["protocol"] = protocol
    options = dict(fields.get("learner_options", {}))
    options.update(parse_pair(pair, "learner option") for pair in args.learner_option)
    if args.warm_start:
        options["warm_start"] = True
    fields["learner_options"] = options
    return build_sweep(
        fields,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        allow_partial=args.allow_partial,
        skip_unreadable=args.skip_unreadable,
    )


def build_sweep(fields: Mapping[str, Any], **where: Any) -> SweepSpec:
    """A SweepSpec from checked sweep-file fields, with :data:`DEFAULTS` for what is missing;
    ``where``: ``data_root``, ``download``, ``device``, ``allow_partial``,
    ``skip_unreadable``."""
    for key in ("datasets", "strategies"):
        if key not in fields:
            raise InvalidSpecError(f"{FLAGS[key]} is required (or {key} in a --config file)")
    if fields.get("preset"):
        fields = with_preset(fields, get_preset(fields["preset"]))
    lists = {
        key: fields[key] if key in fields else parse_list(DEFAULTS[key], key)
        for key in ("datasets", "backbones", "learners", "strategies")
    }
    return SweepSpec(
        **lists,
        seeds=fields["seeds"] if "seeds" in fields else parse_seeds(DEFAULTS["seeds"]),
        protocol=Protocol(**fields.get("protocol", {})),
        learner_options=fields.get("learner_options", {}),
        name=fields.get("name", ""),
        scenarios=fields.get("scenarios", ()),
        **where,
    )


def with_preset(fields: Mapping[str, Any], preset: Preset) -> dict[str, Any]:
    """``fields`` over ``preset``: its protocol, learner and backbone fill what ``fields``
    leaves out. Its learner options belong to its learner: they are written inline into that
    learner's spec, under the options ``fields`` gives (shorthand or inline); other learners
    keep their own defaults (a linear probe has an ``init`` too, with another meaning). The
    default sweep name ends with the preset's name instead of every learner option."""
    shared = fields.get("learner_options", {})
    learners = []
    for text in fields.get("learners", (preset.learner,)):
        name, inline = split_learner(text)
        if name == preset.learner:
            given = {k: v for k, v in preset.learner_options.items() if k not in shared}
            text = format_call(name, {**given, **inline})
        learners.append(text)
    backbones = fields.get("backbones", (preset.backbone,))
    names = [split_learner(text)[0] for text in learners]
    return {
        "name": sweep_name(fields["datasets"], backbones, names, [preset.name]),
        **fields,
        "learners": tuple(learners),
        "backbones": backbones,
        "protocol": {**preset.protocol, **fields.get("protocol", {}), "preset": preset.name},
    }
