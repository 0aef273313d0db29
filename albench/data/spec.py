"""Dataset specs: class names, prompt templates and sources, stored as JSON data.

One file per dataset, ``datasets/specs/<name>.json``::

    {"name": ..., "description": ..., "reference": ..., "n_classes": int,
     "class_names": [...] | "<named list>" | null,      # null: names come from the data
     "templates": [...] | "<named set>",                # "{}" marks the class name
     "coop_template": "a photo of a {}.",               # CoOp's single hand-crafted prompt
     "sources": [{"kind": ..., "sizes": [pool, test], ...options}, ...]}

``sources`` are alternatives tried in order (e.g. CoOp's split file, then torchvision).
Named template sets live in ``datasets/templates.json``; the names ``open_clip.imagenet``
refer to open_clip's copy of CLIP's ImageNet class names and 80 templates (Radford et al.
2021), so they are not duplicated here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albench.data.paths import datasets_dir
from albench.errors import InvalidSpecError

PLACEHOLDER = "{}"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as described by its spec file (names may still be references)."""

    name: str
    n_classes: int
    class_names: tuple[str, ...] | str | None
    templates: tuple[str, ...] | str
    coop_template: str
    sources: tuple[dict[str, Any], ...]
    description: str = ""
    reference: str = ""


def _open_clip_imagenet_classnames() -> tuple[str, ...]:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    return tuple(IMAGENET_CLASSNAMES)


def _open_clip_imagenet_templates() -> tuple[str, ...]:
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return tuple(template(PLACEHOLDER) for template in OPENAI_IMAGENET_TEMPLATES)


_NAMED_CLASS_NAMES: dict[str, Callable[[], tuple[str, ...]]] = {
    "open_clip.imagenet": _open_clip_imagenet_classnames,
}
_CODED_TEMPLATES: dict[str, Callable[[], tuple[str, ...]]] = {
    "open_clip.imagenet": _open_clip_imagenet_templates,
}


@functools.cache
def template_sets() -> dict[str, tuple[str, ...]]:
    """Named template sets from ``datasets/templates.json``."""
    path = datasets_dir() / "templates.json"
    sets = json.loads(path.read_text(encoding="utf-8"))
    return {name: tuple(templates) for name, templates in sets.items()}


def resolve_class_names(spec: DatasetSpec) -> tuple[str, ...] | None:
    """The spec's class names in label order, or None when they come from the data."""
    if isinstance(spec.class_names, str):
        return _NAMED_CLASS_NAMES[spec.class_names]()
    return spec.class_names


def resolve_templates(spec: DatasetSpec) -> tuple[str, ...]:
    """The spec's prompt templates, each with one ``{}``."""
    if isinstance(spec.templates, str):
        if spec.templates in _CODED_TEMPLATES:
            return _CODED_TEMPLATES[spec.templates]()
        return template_sets()[spec.templates]
    return spec.templates


def _check(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise InvalidSpecError(f"dataset spec {path}: {message}")


def _as_strings(value: Any, known_names: set[str]) -> tuple[str, ...] | str | None:
    if value is None or (isinstance(value, str) and value in known_names):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise TypeError(value)


def parse_spec(data: dict[str, Any], path: Path) -> DatasetSpec:
    """Validate one spec's JSON content."""
    _check(data.get("name") == path.stem, path, "'name' must equal the file name")
    _check(
        isinstance(data.get("n_classes"), int) and data["n_classes"] > 0,
        path,
        "'n_classes' must be a positive integer",
    )
    try:
        names = _as_strings(data.get("class_names"), set(_NAMED_CLASS_NAMES))
        templates = _as_strings(data.get("templates"), set(_CODED_TEMPLATES) | set(template_sets()))
    except TypeError as bad:
        raise InvalidSpecError(f"dataset spec {path}: not a list of names: {bad}") from None
    _check(templates is not None, path, "'templates' is required")
    if isinstance(names, tuple):
        _check(
            len(names) == data["n_classes"],
            path,
            f"{len(names)} class names for {data['n_classes']} classes",
        )
    if isinstance(templates, tuple):
        _check(all(PLACEHOLDER in t for t in templates), path, "a template lacks '{}'")
    coop_template = data.get("coop_template", "a photo of a {}.")
    _check(PLACEHOLDER in coop_template, path, "coop_template lacks '{}'")
    sources = data.get("sources")
    _check(isinstance(sources, list) and len(sources) > 0, path, "'sources' must be a list")
    _check(
        all(isinstance(s, dict) and "kind" in s for s in sources),
        path,
        "every source needs a 'kind'",
    )
    return DatasetSpec(
        name=data["name"],
        n_classes=data["n_classes"],
        class_names=names,
        templates=templates,
        coop_template=coop_template,
        sources=tuple(sources),
        description=data.get("description", ""),
        reference=data.get("reference", ""),
    )


@functools.cache
def load_specs() -> dict[str, DatasetSpec]:
    """Every spec in ``datasets/specs``, by name (read once per process)."""
    specs = {}
    for path in sorted((datasets_dir() / "specs").glob("*.json")):
        specs[path.stem] = parse_spec(json.loads(path.read_text(encoding="utf-8")), path)
    return specs
