"""The report's selector x evaluator matrix and stopping-rule table, read back from HTML."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from test_report import _Tables, synthetic_results

from albench import stats
from albench.report import ReportOptions, build_report, render_html
from albench.report.evaluators import SAME

STRATEGIES = ("random", "entropy")
SEEDS = (0, 1, 2)
#: evaluation learners and their accuracy offset from the selector's
EVALUATORS = {"coop": -0.04, "clip-adapter": 0.02}
#: hand-set stopping rounds per strategy (None: the rule never stopped the run)
STOPS = {
    "random": {"stabilising-predictions": 3, "max-uncertainty": None, "budget": 2},
    "entropy": {"stabilising-predictions": None, "max-uncertainty": 1, "budget": 2},
}


def _with_evaluator(rows: pd.DataFrame, name: str, offset: float) -> pd.DataFrame:
    """The same runs evaluated by ``name``: new run ids, eval_accuracy = accuracy + offset
    + a per-round wobble (so AUBCs differ from a shift of the selector's)."""
    run_ids = rows["run_id"].map(lambda r: hashlib.sha256(f"{r}|{name}".encode()).hexdigest()[:16])
    return rows.assign(
        run_id=run_ids,
        eval_learner=name,
        eval_accuracy=rows["accuracy"] + offset + 0.01 * np.sin(rows["round"] + rows["seed"]),
    )


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    plain = synthetic_results(datasets=("eurosat",), strategies=STRATEGIES, seeds=SEEDS)
    plain = plain.assign(
        eval_learner="",
        eval_accuracy=np.nan,
        stop_rounds=plain["strategy"].map(lambda s: json.dumps(STOPS[s], sort_keys=True)),
    )
    evaluated = [_with_evaluator(plain, name, gain) for name, gain in EVALUATORS.items()]
    return pd.concat([plain, *evaluated], ignore_index=True)


@pytest.fixture(scope="module")
def tables(results) -> dict:
    report = build_report(results, ReportOptions())
    parser = _Tables()
    parser.feed(render_html(report))
    return parser.tables


def _mean_aubc(frame: pd.DataFrame, column: str) -> float:
    per_run = [
        stats.aubc(run["n_labelled"], run[column])
        for _, run in frame.sort_values("round").groupby("run_id")
    ]
    return float(np.mean(per_run))


def test_the_matrix_holds_each_selector_s_aubc_under_each_evaluator(results, tables):
    table = tables["AUBC by evaluator"]
    assert table["header"] == ["strategy (selecting learner)", SAME, "clip-adapter", "coop"]
    shown = {row[0]: row[1:] for row in table["rows"]}
    assert sorted(shown) == ["entropy (linear-probe)", "random (linear-probe)"]
    for strategy in STRATEGIES:
        runs = results[results["strategy"] == strategy]
        plain = runs[runs["eval_learner"] == ""]
        expected = [
            _mean_aubc(plain, "accuracy"),
            _mean_aubc(runs[runs["eval_learner"] == "clip-adapter"], "eval_accuracy"),
            _mean_aubc(runs[runs["eval_learner"] == "coop"], "eval_accuracy"),
        ]
        assert shown[f"{strategy} (linear-probe)"] == [f"{100 * v:.2f}" for v in expected]
    # the best evaluator of each row is bold: clip-adapter (+2 pp)
    assert sorted(table["strong"]) == [("entropy (linear-probe)", 2), ("random (linear-probe)", 2)]


def test_the_stopping_table_shows_accuracy_at_each_rule_s_round(results, tables):
    table = tables["Stopping rules"]
    header = table["header"]
    assert header[:4] == ["environment", "strategy", "rule", "round"]
    plain = results[results["eval_learner"] == ""]
    # the same stops were recorded by the evaluated copies of each run, in other environments
    rows = [row for row in table["rows"] if row[0] == "eurosat · no evaluator"]
    assert [(row[1], row[2]) for row in rows] == [
        (s, rule) for s in ("entropy", "random") for rule in STOPS[s]
    ]
    for row in rows:
        strategy, rule = row[1], row[2]
        runs = plain[plain["strategy"] == strategy]
        last = int(runs["round"].max())
        at = STOPS[strategy][rule]
        round_ = last if at is None else at
        at_stop = runs[runs["round"] == round_].sort_values("seed")["accuracy"].to_numpy()
        final = runs[runs["round"] == last].sort_values("seed")["accuracy"].to_numpy()
        mean, half = stats.t_interval(at_stop - final)
        cells = dict(zip(header, row, strict=True))
        assert cells["round"] == f"{round_:.1f}"
        assert cells["stopped"] == ("0 of 3" if at is None else "3 of 3")
        assert cells["accuracy at stop (%)"] == f"{100 * at_stop.mean():.2f}"
        assert cells["final accuracy (%)"] == f"{100 * final.mean():.2f}"
        expected = f"{100 * mean:+.2f}" + ("" if np.isnan(half) else f" ± {100 * half:.2f}")
        assert cells["difference (pp)"] == expected


def test_results_without_either_feature_get_neither_section():
    report = build_report(synthetic_results(datasets=("eurosat",)), ReportOptions())
    titles = {section.title for section in report.sections}
    assert "Selector and evaluator" not in titles and "Stopping rules" not in titles
