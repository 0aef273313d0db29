"""A scenario spec in the option grammar, and the combination of several.

``noisy-oracle(rate=0.2)+long-tail(imbalance=100)`` is two scenarios joined by ``+`` at the
top level (outside parentheses, where the option grammar never puts one), so each part is
an ordinary ``name(key=value, ...)`` checked by its own class. The parts act in the fixed
order of the task's steps (:data:`albench.scenarios.base.STEPS`), so ``a+b`` and ``b+a``
build the same task; the text is kept as written (it is part of the run id).
"""

from __future__ import annotations

from dataclasses import dataclass

from albench.errors import InvalidSpecError, UnknownNameError
from albench.options import parse_call
from albench.scenarios.base import SCENARIOS, STEPS, Scenario, Task, World

#: how a sweep's list of scenarios says "no scenario" where an empty item cannot stand
NONE = "none"
#: joins the scenarios of a combination
JOIN = "+"


def canonical(text: str) -> str:
    """``text`` as stored in the protocol: stripped, "" for no scenario (``none`` too)."""
    text = text.strip()
    return "" if text == NONE else text


@dataclass(frozen=True)
class Scenarios:
    """The scenarios of one spec, applied step by step."""

    parts: tuple[Scenario, ...]

    def task(self, world: World, *, annotated: bool = True) -> Task:
        """The task ``world`` becomes; without ``annotated``, only the pool is shaped (the
        annotator can cost a pass over the pool, and sizes do not depend on it)."""
        task = Task.ideal(world)
        for step in STEPS if annotated else STEPS[:-1]:
            for part in self.parts:
                task = getattr(part, step)(task, world)
        return task

    def sources(self) -> tuple[str, ...]:
        """The other datasets the parts draw pool images from, in part order."""
        return tuple(source for part in self.parts for source in part.sources())


def scenario_sources(text: str) -> tuple[str, ...]:
    """The other datasets the scenarios of ``text`` draw pool images from (none for none)."""
    scenarios = parse_scenario(text)
    return () if scenarios is None else scenarios.sources()


def split_parts(text: str) -> list[str]:
    """Split at ``+`` outside parentheses; InvalidSpecError for an empty part."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == JOIN and depth == 0:
            parts.append(text[start:position].strip())
            start = position + 1
    parts.append(text[start:].strip())
    if not all(parts):
        raise InvalidSpecError(f"malformed scenario {text!r}: a {JOIN!r} joins two scenarios")
    return parts


def parse_scenario(text: str) -> Scenarios | None:
    """The scenarios of ``text`` ("" or ``none`` for none); one-line errors for names,
    options and a scenario given twice."""
    text = canonical(text)
    if not text:
        return None
    parts = []
    for part in split_parts(text):
        call = parse_call(part, "scenario")
        if call.name not in SCENARIOS:
            raise UnknownNameError("scenario", call.name, SCENARIOS)
        if call.args:
            raise InvalidSpecError(f"scenario {call.name!r} takes options only (key=value)")
        parts.append(SCENARIOS[call.name].build(call.options))
    names = [part.name for part in parts]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidSpecError(f"scenario {twice[0]!r} is given twice in {text!r}")
    return Scenarios(tuple(parts))
