"""Stopping rules: the round at which a user, who has no test labels, would have stopped.

A benchmark runs every strategy to the full budget; a user has to decide when to stop
paying for labels. A rule here decides from what the user has in every round, which the
runner records per round (:mod:`albench.stop_signals`):

``stop_kappa``
    Cohen's kappa between the predictions of this round's model and the previous round's
    on a fixed *stop set* of unlabelled pool samples (NaN at round 0);
``max_uncertainty``
    the largest prediction entropy (nats) of this round's model over the unlabelled pool;
``n_labelled``
    the labels bought so far.

Each rule (:data:`STOPPING_RULES`) has a name, options with defaults and its reference,
and maps a run's per-round rows to the first round at which it stops, or None when it
never does within the run. Rules are evaluated after the fact, so new options need no
rerun; every run records the rounds of the rules at their defaults (``stop_rounds``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import entropy
from sklearn.metrics import cohen_kappa_score

from albench.arrays import is_tensor
from albench.options import OptionSpec, check_values


def agreement(previous: np.ndarray, current: np.ndarray, n_classes: int) -> float:
    """Cohen's kappa of two prediction vectors over ``n_classes`` labels.

    Identical predictions agree perfectly (1.0), including the case kappa leaves undefined:
    both vectors one and the same constant class (chance agreement 1).
    """
    if np.array_equal(previous, current):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(previous, current, labels=np.arange(n_classes)))


def max_entropy(probabilities: np.ndarray | Any) -> float:
    """The largest row entropy (nats) of a block of class probabilities; NaN for no rows.
    A torch tensor (a GPU run's block) is reduced on its device as scipy reduces an array:
    each row normalised, then -sum p log p, in the block's own precision (float32 sums in
    another order: the two agree to float32 rounding)."""
    if len(probabilities) == 0:
        return float("nan")
    if is_tensor(probabilities):
        import torch  # only tensor inputs get here

        p = probabilities / probabilities.sum(dim=1, keepdim=True)
        return float(torch.special.entr(p).sum(dim=1).max())
    return float(entropy(probabilities, axis=1).max())


# --------------------------------------------------------------------------- rules


def _stabilising(rows: pd.DataFrame, window: int, threshold: float) -> int | None:
    """First round whose last ``window`` kappas (each against the round before) average
    above ``threshold``."""
    kappas = rows["stop_kappa"].to_numpy(dtype=float)
    means = pd.Series(kappas).rolling(window, min_periods=window).mean().to_numpy()
    hits = np.flatnonzero(means > threshold)
    return int(rows["round"].iloc[hits[0]]) if len(hits) else None


def _max_uncertainty(rows: pd.DataFrame, threshold: float) -> int | None:
    """First round whose largest uncertainty over the unlabelled pool is below ``threshold``."""
    hits = np.flatnonzero(rows["max_uncertainty"].to_numpy(dtype=float) < threshold)
    return int(rows["round"].iloc[hits[0]]) if len(hits) else None


def _budget(rows: pd.DataFrame, fraction: float, labels: int | None) -> int | None:
    """First round with at least ``labels`` labels, or (when ``labels`` is None) at least
    ``fraction`` of the run's final number of labels."""
    counts = rows["n_labelled"].to_numpy(dtype=float)
    target = labels if labels is not None else fraction * counts[-1]
    hits = np.flatnonzero(counts >= target)
    return int(rows["round"].iloc[hits[0]]) if len(hits) else None


@dataclass(frozen=True)
class StopRule:
    """A stopping rule: its options (defaults, types), reference, and the round it stops at."""

    name: str
    options: Mapping[str, OptionSpec]
    reference: str
    decide: Callable[..., int | None]
    summary: str

    def stop_round(self, rows: pd.DataFrame, **options: Any) -> int | None:
        """The first round of ``rows`` (one run, any order) at which the rule stops."""
        check_values(f"stopping rule {self.name!r}", options, self.options)
        values = {key: spec.default for key, spec in self.options.items()} | options
        return self.decide(rows.sort_values("round"), **values)


STOPPING_RULES: dict[str, StopRule] = {
    rule.name: rule
    for rule in (
        StopRule(
            "stabilising-predictions",
            {
                "window": OptionSpec(3, "successive kappas averaged", minimum=1),
                "threshold": OptionSpec(0.99, "stop when their mean exceeds this", minimum=0),
            },
            "Bloodgood & Vijay-Shanker, CoNLL 2009, 'A Method for Stopping Active Learning "
            "Based on Stabilizing Predictions and the Need for User-Adjustable Stopping'",
            _stabilising,
            "agreement (kappa) of successive models on an unlabelled stop set has settled",
        ),
        StopRule(
            "max-uncertainty",
            {"threshold": OptionSpec(0.01, "entropy (nats) every unlabelled sample is below")},
            "Zhu, Wang & Hovy, IJCNLP 2008, 'Learning a Stopping Criterion for Active "
            "Learning for Word Sense Disambiguation and Text Classification'",
            _max_uncertainty,
            "no unlabelled sample is uncertain any more",
        ),
        StopRule(
            "budget",
            {
                "fraction": OptionSpec(0.5, "share of the run's final labels", minimum=0),
                "labels": OptionSpec(None, "an absolute number of labels", types=(int,)),
            },
            "a fixed labelling budget, the rule every benchmark applies (Settles, 'Active "
            "Learning Literature Survey', 2009, on stopping criteria)",
            _budget,
            "a set share (or number) of labels is spent",
        ),
    )
}


def stop_rounds(rows: pd.DataFrame) -> dict[str, int | None]:
    """Every rule at its default options on one run's rows: ``{name: round or None}``."""
    return {name: rule.stop_round(rows) for name, rule in STOPPING_RULES.items()}


def stop_rounds_json(rows: pd.DataFrame) -> str:
    """:func:`stop_rounds` as the JSON text stored in the results' ``stop_rounds`` column."""
    return json.dumps(stop_rounds(rows), sort_keys=True)
