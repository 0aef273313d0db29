"""The noisy annotator: seeded per (dataset, seed, sample), hidden from strategies and
learners, counted in the results, and absent from the run id when unused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401
from scipy import stats

from albench.errors import InvalidSpecError, UnknownNameError
from albench.protocol import Protocol
from albench.runner import run
from albench.scenarios import NoisyOracle, parse_scenario
from albench.specs import RunSpec

INPUTS = make_inputs()
pytestmark = pytest.mark.usefixtures("one_thread")


def test_wrong_labels_follow_the_rate_and_are_never_the_true_class():
    labels = np.random.default_rng(0).integers(0, 5, 20_000)
    revealed = NoisyOracle(rate=0.2).annotations(labels, 5, seed=3, dataset="d")
    wrong = revealed != labels
    assert stats.binomtest(int(wrong.sum()), len(labels), 0.2).pvalue > 0.001
    # a wrong label is uniform over the other four classes
    shifts = (revealed[wrong] - labels[wrong]) % 5
    counts = np.bincount(shifts, minlength=5)
    assert counts[0] == 0 and stats.chisquare(counts[1:]).pvalue > 0.001
    again = NoisyOracle(rate=0.2).annotations(labels, 5, seed=3, dataset="d")
    other_seed = NoisyOracle(rate=0.2).annotations(labels, 5, seed=4, dataset="d")
    assert np.array_equal(revealed, again) and not np.array_equal(revealed, other_seed)


def _spec(strategy: str, scenario: str = "") -> RunSpec:
    protocol = Protocol(rounds=2, scenario=scenario)
    return RunSpec("blobs", "fake", "linear", strategy, 0, protocol=protocol)


def test_a_run_trains_on_revealed_labels_and_counts_the_wrong_ones():
    noisy = run(_spec("random", "noisy-oracle(rate=0.4)"), INPUTS)
    clean = run(_spec("random"), INPUTS)
    picks = np.asarray(noisy.selections["initial"] + noisy.selections["rounds"][0]["indices"])
    oracle = parse_scenario("noisy-oracle(rate=0.4)")
    revealed = oracle.annotations(INPUTS.pool_labels, INPUTS.n_classes, 0, "blobs")
    expected = int(np.count_nonzero(revealed[picks] != INPUTS.pool_labels[picks]))
    assert noisy.rows["n_wrong_labels"].tolist()[1] == expected > 0
    assert clean.rows["n_wrong_labels"].tolist() == [0, 0, 0]
    # the same labelled set (random picks do not depend on labels), other training labels
    assert noisy.selections["initial"] == clean.selections["initial"]


def test_strategies_see_the_revealed_labels_only():
    result = run(_spec(spec_of("RecordsLabels"), "noisy-oracle(rate=0.5)"), INPUTS)
    seen = result.selections["rounds"][0]["info"]["labelled_labels"]
    initial = np.asarray(result.selections["initial"])
    revealed = parse_scenario("noisy-oracle(rate=0.5)").annotations(
        INPUTS.pool_labels, INPUTS.n_classes, 0, "blobs"
    )
    np.testing.assert_array_equal(seen, revealed[initial])
    assert not np.array_equal(seen, INPUTS.pool_labels[initial])


def test_a_scenario_enters_the_run_id_only_when_set():
    plain = _spec("random")
    assert "scenario" not in plain.identity()
    noisy = _spec("random", "noisy-oracle(rate=0.2)")
    assert noisy.run_id != plain.run_id
    assert replace(noisy, protocol=replace(noisy.protocol, scenario="")) == plain


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("noisy-orcle(rate=0.1)", UnknownNameError, "did you mean 'noisy-oracle'"),
        ("noisy-oracle(rate=1.0)", InvalidSpecError, r"rate is in \[0, 1\)"),
        ("noisy-oracle(rate=high)", InvalidSpecError, "rate='high': expected number"),
        ("noisy-oracle(rate=0.1, kind=confusion)", InvalidSpecError, "expected uniform"),
    ],
)
def test_bad_scenarios_are_one_line_errors(text, error, message):
    with pytest.raises(error, match=message):
        Protocol(scenario=text)


def test_the_report_s_command_reproduces_the_scenario_and_the_preset():
    from albench.report.reproduce import command

    spec = {
        "datasets": ["d"],
        "backbones": ["b"],
        "learners": ["linear"],
        "strategies": ["random"],
        "seeds": [0],
        "protocol": {"rounds": 2, "scenario": "noisy-oracle(rate=0.2)", "preset": "pcb"},
    }
    text = command(spec, "out")
    assert "'--scenario=noisy-oracle(rate=0.2)'" in text and "--protocol=pcb" in text
