"""Departures from the ideal experiment, as part of the protocol: today, a noisy annotator.

A scenario is written in albench's option grammar (``noisy-oracle(rate=0.2)``), checked
without torch, recorded in the protocol (and in the run id only when set, so the ids of
runs without one are those they always had).

``noisy-oracle(rate=, kind="uniform")``: each label the annotator reveals (the initial set
and every query) is wrong with probability ``rate``, replaced by a uniformly drawn other
class, as the symmetric label noise of the noisy-label literature (e.g. Patrini et al.,
CVPR 2017; DeFT, Wei et al., NeurIPS 2024, uses the same for its detectors). Whether
sample i's label is wrong, and what it becomes, is drawn once per (dataset, seed, sample)
over the whole pool, so every strategy and learner of a sweep meets the same annotator on
the same sample and comparisons stay paired. Strategies and learners see only the revealed
labels; the test split stays clean, and the results count the wrong labels each run got.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from albench.errors import InvalidSpecError, UnknownNameError
from albench.options import OptionSpec, check_values, parse_call
from albench.seeding import stream


@dataclass(frozen=True)
class NoisyOracle:
    """Reveals each label wrongly with probability ``rate`` (uniform over other classes)."""

    rate: float
    kind: str = "uniform"

    def annotations(self, labels: np.ndarray, n_classes: int, seed: int, dataset: str):
        """The label the annotator gives for every pool sample (row i: pool sample i)."""
        rng = stream(seed, "oracle", dataset, f"{self.kind}:{self.rate!r}")
        wrong = rng.random(len(labels)) < self.rate
        shift = rng.integers(1, max(n_classes, 2), len(labels))
        noisy = (labels + shift) % n_classes if n_classes > 1 else labels
        return np.where(wrong, noisy, labels).astype(np.int64)


#: scenario name -> (its options, how to build it)
SCENARIOS: dict[str, tuple[dict[str, OptionSpec], Callable[..., NoisyOracle]]] = {
    "noisy-oracle": (
        {
            "rate": OptionSpec(0.0, "probability that a revealed label is wrong", minimum=0),
            "kind": OptionSpec("uniform", "how a wrong label is drawn", choices=("uniform",)),
        },
        NoisyOracle,
    ),
}


#: how a sweep's list of scenarios says "no scenario" where an empty item cannot stand
NONE = "none"


def canonical(text: str) -> str:
    """``text`` as stored in the protocol: stripped, "" for no scenario (``none`` too)."""
    text = text.strip()
    return "" if text == NONE else text


def parse_scenario(text: str) -> NoisyOracle | None:
    """The scenario of ``text`` ("" or ``none`` for none); one-line errors for names and
    options."""
    text = canonical(text)
    if not text:
        return None
    call = parse_call(text, "scenario")
    if call.name not in SCENARIOS:
        raise UnknownNameError("scenario", call.name, SCENARIOS)
    if call.args:
        raise InvalidSpecError(f"scenario {call.name!r} takes options only (key=value)")
    options, build = SCENARIOS[call.name]
    check_values(f"scenario {call.name!r}", call.options, options)
    values = {key: spec.default for key, spec in options.items()} | dict(call.options)
    if not 0 <= values["rate"] < 1:
        raise InvalidSpecError(f"scenario {call.name!r}: rate is in [0, 1), not {values['rate']}")
    return build(**values)
