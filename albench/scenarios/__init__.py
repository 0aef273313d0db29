"""Departures from the ideal experiment, as part of the protocol (``docs/scenarios.md``).

A scenario is written in albench's option grammar (``noisy-oracle(rate=0.2)``), several
joined by ``+`` (``noisy-oracle(rate=0.2)+long-tail(imbalance=100)``), checked without
torch, and recorded in the protocol (and in the run id only when set, so the ids of runs
without one are those they always had). Each scenario is a small class registered by name
(:class:`Scenario`, :data:`SCENARIOS`); the runner asks the spec's scenarios for the
:class:`Task` a run works on: its classes, pool, test split and annotator.
"""

from __future__ import annotations

from albench.scenarios.base import OUTSIDE, SCENARIOS, STEPS, Scenario, Task, World
from albench.scenarios.combined import (
    NONE,
    Scenarios,
    canonical,
    parse_scenario,
    scenario_sources,
)
from albench.scenarios.long_tail import LongTail
from albench.scenarios.noisy_oracle import NoisyOracle
from albench.scenarios.open_set import OpenSet

__all__ = [
    "NONE",
    "OUTSIDE",
    "SCENARIOS",
    "STEPS",
    "LongTail",
    "NoisyOracle",
    "OpenSet",
    "Scenario",
    "Scenarios",
    "Task",
    "World",
    "canonical",
    "parse_scenario",
    "scenario_sources",
]
