"""Named protocol presets: published experiments as data, each value with its source.

A preset (``protocols/<name>.toml`` in a source checkout, ``albench/_protocols`` in the
wheel) sets a :class:`~albench.protocol.Protocol`, a default learner and backbone, and
default learner options; ``albench run --protocol NAME`` starts from it and every flag,
sweep-file field and inline option overrides it. The preset's name becomes the protocol's
``preset`` field, so it is part of every run id and results row made under it, and the
values it set are in the run's spec (protocol fields and learner options) like any other.

A preset file holds ``name``, ``summary``, ``reference``, ``learner``, ``backbone``,
``missing`` (what albench cannot yet do of the protocol), ``[protocol]``,
``[learner_options]`` and ``[sources]``: one entry per value set (``learner``,
``backbone``, ``protocol.<field>``, ``learner_options.<key>``), a source starting with
"guess" when it is one. Reading presets imports nothing heavy.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from albench.errors import InvalidSpecError, UnknownNameError
from albench.protocol import Protocol

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published apart before Python 3.11
    import tomli as tomllib

_KEYS = {
    "name",
    "summary",
    "reference",
    "learner",
    "backbone",
    "missing",
    "protocol",
    "learner_options",
    "sources",
}
_PROTOCOL_FIELDS = {f.name for f in fields(Protocol)} - {"preset"}


@dataclass(frozen=True)
class Preset:
    """One named protocol preset (see the module docstring for the file's fields)."""

    name: str
    summary: str
    reference: str
    learner: str
    backbone: str
    protocol: Mapping[str, Any]
    learner_options: Mapping[str, Any]
    sources: Mapping[str, str]
    missing: tuple[str, ...] = field(default=())

    def values(self) -> dict[str, Any]:
        """Every value the preset sets, under its ``sources`` key."""
        return {
            "learner": self.learner,
            "backbone": self.backbone,
            **{f"protocol.{key}": value for key, value in self.protocol.items()},
            **{f"learner_options.{key}": value for key, value in self.learner_options.items()},
        }

    def guesses(self) -> list[str]:
        """The keys whose source says it is a guess."""
        return [key for key, source in self.sources.items() if source.startswith("guess")]


def protocols_dir() -> Path:
    """The folder of preset files: in the wheel, else the checkout's ``protocols/``."""
    installed = Path(__file__).resolve().parent / "_protocols"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / "protocols"


def parse_preset(data: Mapping[str, Any], where: str) -> Preset:
    """A :class:`Preset` from a file's fields; InvalidSpecError naming what is wrong."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidSpecError(f"{where}: unknown key {unknown[0]!r}")
    protocol = dict(data.get("protocol", {}))
    if set(protocol) - _PROTOCOL_FIELDS:
        raise InvalidSpecError(f"{where}: [protocol] takes {', '.join(sorted(_PROTOCOL_FIELDS))}")
    Protocol(**protocol)
    preset = Preset(
        name=str(data["name"]),
        summary=str(data.get("summary", "")),
        reference=str(data.get("reference", "")),
        learner=str(data["learner"]),
        backbone=str(data["backbone"]),
        protocol=protocol,
        learner_options=dict(data.get("learner_options", {})),
        sources=dict(data.get("sources", {})),
        missing=tuple(data.get("missing", ())),
    )
    unsourced = sorted(set(preset.values()) - set(preset.sources))
    if unsourced:
        raise InvalidSpecError(f"{where}: {unsourced[0]} has no source")
    return preset


@functools.cache
def load_presets() -> dict[str, Preset]:
    """Every preset, by name (read once per process)."""
    presets = {}
    for path in sorted(protocols_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        preset = parse_preset(data, f"preset file {path.name!r}")
        if preset.name != path.stem:
            raise InvalidSpecError(f"preset file {path.name!r} names itself {preset.name!r}")
        presets[preset.name] = preset
    return presets


def get_preset(name: str) -> Preset:
    """The preset called ``name``; UnknownNameError (with a suggestion) otherwise."""
    presets = load_presets()
    if name not in presets:
        raise UnknownNameError("protocol preset", name, presets)
    return presets[name]
