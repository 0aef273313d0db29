"""Learner lookup by name, with the options checked before anything is built.

Learners register by subclassing :class:`~albench.learners.base.Learner` with a ``name``;
importing every module of this package (:func:`load_builtins`) fills ``LEARNERS``, so a new
learner module needs no edit here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import Any

from albench.errors import InvalidSpecError, UnknownNameError
from albench.learners.base import LEARNERS, Learner, LearnerContext


@cache
def load_builtins() -> None:
    """Import the package's learner modules so that their classes register."""
    package = importlib.import_module("albench.learners")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"albench.learners.{module.name}")


def learner_names() -> list[str]:
    load_builtins()
    return sorted(LEARNERS)


def get_learner(name: str) -> type[Learner]:
    """The learner class registered under ``name``; UnknownNameError (with a suggestion)."""
    load_builtins()
    if name not in LEARNERS:
        raise UnknownNameError("learner", name, LEARNERS)
    return LEARNERS[name]


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options the learner's constructor does not accept, naming the valid ones, and
    values the learner refuses (its ``check_option_values``)."""
    cls = get_learner(name)
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        # learners taking **options declare what they accept in a ``defaults`` mapping
        if not isinstance(getattr(cls, "defaults", None), Mapping):
            return
        valid = sorted(cls.defaults)
    else:
        valid = [p for p, spec in parameters.items() if spec.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InvalidSpecError(
            f"learner {name!r} has no option {unknown[0]!r}; options: {', '.join(valid) or 'none'}"
        )
    cls.check_option_values(options)


def make_learner(name: str, context: LearnerContext, options: Mapping[str, Any]) -> Learner:
    """Build learner ``name`` with ``options`` after checking them."""
    check_options(name, options)
    return get_learner(name)(context, **dict(options))
