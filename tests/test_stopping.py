"""Stopping rules on hand-made runs, and the per-round signals the runner measures."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import torch
from runner_fakes import make_inputs, one_thread  # noqa: F401

from albench.errors import InvalidSpecError
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec
from albench.stop_signals import STOP_SET_SIZE, StopSignals
from albench.stopping import STOPPING_RULES, agreement, max_entropy, stop_rounds

NAN = float("nan")


def _run(**columns) -> pd.DataFrame:
    """One run's rows: rounds 0..R and the given per-round signals."""
    frame = pd.DataFrame(columns)
    return frame.assign(round=np.arange(len(frame)))


def test_kappa_is_cohen_s_and_identical_predictions_agree_fully():
    # po = 3/4; marginals (1/2, 1/2) and (1/4, 3/4): pe = 1/2; kappa = (3/4 - 1/2) / (1/2)
    assert agreement(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3) == pytest.approx(0.5)
    # one constant class twice: kappa is 0/0, the predictions are stable
    assert agreement(np.zeros(5, int), np.zeros(5, int), 3) == 1.0
    assert agreement(np.zeros(4, int), np.ones(4, int), 2) == 0.0


def test_stabilising_predictions_stop_when_three_successive_kappas_average_above_099():
    predictions = [
        [0, 1, 2, 0, 1, 2, 0, 1, 2, 0],
        [0, 1, 2, 0, 1, 2, 0, 1, 1, 1],  # two changes
        [0, 1, 2, 0, 1, 2, 0, 1, 1, 1],
        [0, 1, 2, 0, 1, 2, 0, 1, 1, 1],
        [0, 1, 2, 0, 1, 2, 0, 1, 1, 1],
    ]
    kappas = [NAN] + [agreement(np.array(a), np.array(b), 3) for a, b in pairwise(predictions)]
    assert kappas[1] < 0.9 and kappas[2:] == [1.0, 1.0, 1.0]
    rule = STOPPING_RULES["stabilising-predictions"]
    rows = _run(stop_kappa=kappas, n_labelled=[4, 8, 12, 16, 20])
    # round 3 averages (kappa_1, 1, 1) < 0.99; round 4 averages (1, 1, 1)
    assert rule.stop_round(rows) == 4
    assert rule.stop_round(rows, window=2) == 3
    assert rule.stop_round(rows, window=5) is None
    # strictly above the threshold: a mean of exactly 0.99 does not stop
    assert rule.stop_round(_run(stop_kappa=[NAN, 0.99, 0.99, 0.99])) is None
    assert rule.stop_round(_run(stop_kappa=[NAN, 0.99, 0.99, 0.991])) == 3
    # rows come in any order
    assert rule.stop_round(rows.iloc[::-1]) == 4


def test_max_uncertainty_stops_at_the_first_round_below_the_threshold():
    assert max_entropy(np.array([[0.5, 0.5], [0.9, 0.1]])) == pytest.approx(np.log(2))
    assert np.isnan(max_entropy(np.zeros((0, 3))))
    rule = STOPPING_RULES["max-uncertainty"]
    rows = _run(max_uncertainty=[1.2, 0.5, 0.009, 0.02, 0.0005])
    assert rule.stop_round(rows) == 2
    assert rule.stop_round(rows, threshold=0.001) == 4
    assert rule.stop_round(rows, threshold=0.0005) is None  # below, not at


def test_budget_stops_at_a_share_or_a_number_of_labels():
    rule = STOPPING_RULES["budget"]
    rows = _run(n_labelled=[10, 20, 30, 40, 50])
    assert rule.stop_round(rows) == 2  # half of 50: the first round with 25 or more
    assert rule.stop_round(rows, fraction=0.2) == 0
    assert rule.stop_round(rows, labels=40) == 3
    assert rule.stop_round(rows, labels=60) is None
    with pytest.raises(InvalidSpecError, match=r"labels=2\.5: expected whole number"):
        rule.stop_round(rows, labels=2.5)


def test_every_rule_at_its_defaults_on_one_hand_made_run():
    rows = _run(
        n_labelled=[4, 8, 12, 16, 20, 24],
        stop_kappa=[NAN, 0.8, 0.995, 0.999, 0.998, 1.0],
        max_uncertainty=[1.0, 0.8, 0.4, 0.05, 0.008, 0.001],
    )
    # kappa means: r3 (0.8, .995, .999) = 0.931; r4 (.995, .999, .998) = 0.9973
    assert stop_rounds(rows) == {
        "stabilising-predictions": 4,
        "max-uncertainty": 4,
        "budget": 2,
    }
    for rule in STOPPING_RULES.values():
        assert rule.reference and rule.summary and rule.options


def test_signals_use_a_fixed_stop_set_and_only_unlabelled_samples_for_uncertainty():
    n = 6
    labelled = np.array([0, 1])
    signals = StopSignals(np.arange(2, n), n, 2, np.random.default_rng(0))
    assert signals.stop_set.tolist() == [2, 3, 4, 5]  # fewer unlabelled than STOP_SET_SIZE
    even = np.full((n, 2), 0.5)  # entropy ln 2 everywhere
    confident = np.tile([0.99, 0.01], (n, 1))
    # round 0: the labelled rows are the only uncertain ones and do not count
    first_table = np.vstack([even[:2], confident[2:]])
    first = signals.measure(first_table.__getitem__, labelled)
    assert np.isnan(first["stop_kappa"])
    assert first["max_uncertainty"] == pytest.approx(max_entropy(confident[:1]))
    # round 1: sample 5 flips class and is the most uncertain unlabelled sample
    table = confident.copy()
    table[5] = [0.4, 0.6]
    second = signals.measure(table.__getitem__, np.array([0, 1, 2]))
    expected = agreement(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 1]), 2)
    assert second["stop_kappa"] == expected
    assert second["max_uncertainty"] == pytest.approx(max_entropy(table[5:]))


def test_signals_of_device_probabilities_equal_those_of_numpy_ones():
    """A GPU run's blocks (tensors) give the same kappa and, to the last bits, the same
    largest entropy; rows need not sum to 1 exactly (scipy normalises them, so does the
    tensor form)."""
    table = np.random.default_rng(3).dirichlet(np.ones(5), size=300)
    table[7] *= 1.001
    measured = []
    for form in (lambda rows: table[rows], lambda rows: torch.from_numpy(table[rows])):
        signals = StopSignals(np.arange(10, 300), 300, 5, np.random.default_rng(0))
        signals.measure(form, np.arange(10))
        measured.append(signals.measure(form, np.arange(12)))
    assert measured[0]["stop_kappa"] == measured[1]["stop_kappa"]
    assert measured[1]["max_uncertainty"] == pytest.approx(measured[0]["max_uncertainty"], 1e-12)


def test_the_stop_set_is_capped_and_seeded():
    unlabelled = np.arange(10, 5010)
    one = StopSignals(unlabelled, 5010, 3, np.random.default_rng(1)).stop_set
    again = StopSignals(unlabelled, 5010, 3, np.random.default_rng(1)).stop_set
    assert len(one) == STOP_SET_SIZE == len(np.unique(one)) and one.min() >= 10
    np.testing.assert_array_equal(one, again)


@pytest.mark.usefixtures("one_thread")
def test_a_run_records_its_signals_and_the_rounds_its_rules_give():
    spec = RunSpec("blobs", "fake", "linear", "entropy", 0, protocol=Protocol(rounds=4))
    rows = run(spec, make_inputs()).rows
    assert np.isnan(rows.loc[0, "stop_kappa"])
    assert ((rows["stop_kappa"][1:] >= -1) & (rows["stop_kappa"][1:] <= 1)).all()
    assert (rows["max_uncertainty"] > 0).all()
    assert (rows["max_uncertainty"] <= np.log(4) + 1e-9).all()
    recorded = rows["stop_rounds"].unique()
    assert len(recorded) == 1 and json.loads(recorded[0]) == stop_rounds(rows)
