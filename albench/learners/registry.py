"""Learner lookup by name, with options checked before anything is built.

Names, option keys and value types are checked against :mod:`albench.learners.catalog` (and
against learners defined in user code, which register by subclassing ``Learner`` with a
``name``) without importing torch; the implementing class is imported when a run builds
the learner.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from albench.errors import UnknownNameError
from albench.learners.base import LEARNERS, Learner, LearnerContext
from albench.learners.catalog import BUILT_IN, LearnerInfo
from albench.options import check_values


def learner_names() -> list[str]:
    return sorted({*BUILT_IN, *LEARNERS})


def learner_info(name: str) -> LearnerInfo:
    """What learner ``name`` is and accepts; UnknownNameError (with a suggestion)."""
    if name in LEARNERS:
        return LEARNERS[name].info
    if name in BUILT_IN:
        return BUILT_IN[name]
    raise UnknownNameError("learner", name, learner_names())


def learner_infos() -> list[LearnerInfo]:
    return [learner_info(name) for name in learner_names()]


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse an unknown learner, unknown option keys and values of the wrong type."""
    check_values(f"learner {name!r}", options, learner_info(name).options)


def get_learner(name: str) -> type[Learner]:
    """The class implementing learner ``name`` (imported on first use)."""
    info = learner_info(name)
    if name not in LEARNERS:
        module, _, attribute = info.implementation.partition(":")
        getattr(importlib.import_module(module), attribute)
    return LEARNERS[name]


def check_learner(name: str, options: Mapping[str, Any]) -> type[Learner]:
    """:func:`check_options`, then the rules the learner itself sets on values; its class."""
    check_options(name, options)
    cls = get_learner(name)
    cls.check_option_values(options)
    return cls


def make_learner(name: str, context: LearnerContext, options: Mapping[str, Any]) -> Learner:
    """Build learner ``name`` with ``options`` after checking them."""
    return check_learner(name, options)(context, **dict(options))
