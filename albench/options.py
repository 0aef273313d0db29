"""One grammar for every named thing with options, and one check of option values.

Strategies, learners (and wrappers such as ``pcb(badge, candidates=8)``) are written the same
way on the command line, in sweep files and in Python::

    spec    := name | name "(" args ")"
    args    := arg ("," arg)*
    arg     := spec                  (a positional argument: a wrapped strategy)
             | key "=" value         (a keyword option)

A value is a Python literal (``8``, ``1e-4``, ``True``, ``None``, ``'a photo of a'``); text
that is not a literal is taken as a string (``init=a photo of a``), so the shell needs no
extra quoting. Nothing is ever evaluated. Whether a string is acceptable is decided by the
option's declared type (:class:`OptionSpec`), so ``weight_decay=1e-4x`` is refused in one
line naming the option and the type it expects.

This module imports nothing heavy: names, keys and value types are checked before torch.
"""

from __future__ import annotations

import ast
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from albench.errors import InvalidSpecError

_CALL = re.compile(r"^([A-Za-z0-9_.-]+)\s*\((.*)\)$", re.DOTALL)
_KEYWORD = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Call:
    """A parsed spec: ``name``, positional ``args`` (raw text) and keyword ``options``."""

    name: str
    args: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    """A literal's value, or the stripped text itself when it is not a literal."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_pair(text: str, what: str) -> tuple[str, Any]:
    """``"key=value"`` -> ``(key, value)``; InvalidSpecError unless it has that form."""
    keyword = _KEYWORD.match(text.strip())
    if keyword is None:
        raise InvalidSpecError(f"{what} {text!r} is not KEY=VALUE")
    key, value = keyword.groups()
    return key, parse_value(value)


def split_top_level(text: str, what: str = "spec") -> list[str]:
    """Split at commas outside parentheses: ``"a,pcb(b, x=1)"`` -> ``["a", "pcb(b, x=1)"]``."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise InvalidSpecError(f"unbalanced parentheses in {what} {text!r}")
        if char == "," and depth == 0:
            parts.append(text[start:position].strip())
            start = position + 1
    parts.append(text[start:].strip())
    if depth != 0 or not all(parts):
        raise InvalidSpecError(f"malformed {what} {text!r}")
    return parts


def parse_call(text: str, what: str = "spec") -> Call:
    """Parse ``name`` or ``name(arg, ..., key=value, ...)`` (positional arguments first)."""
    text = text.strip()
    if not text:
        raise InvalidSpecError(f"empty {what}")
    call = _CALL.match(text)
    if call is None:
        if "(" in text or ")" in text or "," in text:
            raise InvalidSpecError(f"malformed {what} {text!r}")
        return Call(text)
    name, inner = call.groups()
    args: list[str] = []
    options: dict[str, Any] = {}
    for part in split_top_level(inner, what) if inner.strip() else []:
        keyword = _KEYWORD.match(part)
        if keyword:
            key, value = keyword.groups()
            if key in options:
                raise InvalidSpecError(f"option {key!r} given twice in {what} {text!r}")
            options[key] = parse_value(value)
        elif options:
            raise InvalidSpecError(f"positional arguments must come before options in {text!r}")
        else:
            args.append(part)
    return Call(name, tuple(args), options)


def is_file_spec(spec: str) -> bool:
    """``path/to/file.py:ClassName``: a class loaded from a file rather than a name."""
    path, colon, name = spec.rpartition(":")
    return bool(colon) and path.endswith(".py") and name.isidentifier()


def format_call(name: str, options: Mapping[str, Any]) -> str:
    """The canonical text of a spec: ``name`` or ``name(key=value, ...)`` (sorted keys)."""
    if not options:
        return name
    inner = ", ".join(f"{key}={options[key]!r}" for key in sorted(options))
    return f"{name}({inner})"


# --------------------------------------------------------------------------- typed options


@dataclass(frozen=True)
class OptionSpec:
    """One option: its default, the types it accepts, allowed values and one line of help.

    ``types`` defaults to the default's type; an ``int`` is accepted where a ``float`` is,
    never a ``bool`` where a number is (``True`` is an int to Python, not to a user).
    ``minimum``: the smallest number accepted (None: no bound).
    """

    default: Any
    help: str = ""
    types: tuple[type, ...] = ()
    choices: tuple[Any, ...] = ()
    minimum: float | None = None

    def accepted(self) -> tuple[type, ...]:
        if self.types:
            return self.types
        return (type(self.default),) if self.default is not None else ()

    def accepts(self, value: Any) -> bool:
        if self.choices and value not in self.choices:
            return False
        if self.minimum is not None and _is_instance(value, float) and value < self.minimum:
            return False
        return any(_is_instance(value, kind) for kind in self.accepted()) or not self.accepted()

    def describe(self) -> str:
        """What the option expects, for error messages and ``albench learners``."""
        if self.choices:
            return " | ".join(map(str, self.choices))
        kinds = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in self.accepted())
        return kinds if self.minimum is None else f"{kinds} >= {self.minimum:g}"


_TYPE_NAMES = {float: "number", int: "whole number", bool: "True/False", str: "text"}
_TYPE_NAMES[type(None)] = "None"


def _is_instance(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def check_values(owner: str, options: Mapping[str, Any], specs: Mapping[str, OptionSpec]) -> None:
    """InvalidSpecError for an unknown key or a value of the wrong type, in one line."""
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            raise InvalidSpecError(f"{owner} has no option {key!r}; options: {known}")
        if not spec.accepts(value):
            raise InvalidSpecError(f"{owner} option {key}={value!r}: expected {spec.describe()}")


def signature_options(function: Callable[..., Any]) -> dict[str, OptionSpec]:
    """Option specs of a constructor's keyword parameters (keyword-only ones, and those with
    a default), typed by their annotations.

    Annotations that cannot be resolved (a name imported only for type checkers in a
    user's file) leave the option untyped rather than refusing the class.
    """
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):
        hints = {}
    specs = {}
    for name, parameter in list(inspect.signature(function).parameters.items())[1:]:
        has_default = parameter.default is not inspect.Parameter.empty
        keyword = parameter.kind is inspect.Parameter.KEYWORD_ONLY or (
            parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and has_default
        )
        if keyword:
            default = parameter.default if has_default else None
            specs[name] = OptionSpec(default, types=_annotation_types(hints.get(name)))
    return specs


def accepts_any_keyword(function: Callable[..., Any]) -> bool:
    """Whether ``function`` takes ``**kwargs`` (then its options cannot be listed)."""
    parameters = inspect.signature(function).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _annotation_types(annotation: Any) -> tuple[type, ...]:
    """``float | None`` -> ``(float, NoneType)``; unknown or ``Any`` -> () (anything goes)."""
    if annotation is None or annotation is Any:
        return ()
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [_annotation_types(member) for member in typing.get_args(annotation)]
        return () if not all(members) else tuple(kind for kinds in members for kind in kinds)
    origin = typing.get_origin(annotation) or annotation
    return (origin,) if isinstance(origin, type) else ()
