"""The report's verdict: every number recomputed with scipy / statsmodels on hand-made results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from test_report import synthetic_results

from albench import stats
from albench.report import ReportOptions, build_report
from albench.report.build import prepare
from albench.report.context import Context
from albench.report.style import strategy_styles
from albench.report.verdict import findings

STRATEGIES = ("random", "other", "good")
SEEDS = tuple(range(5))


def _context(frame: pd.DataFrame) -> Context:
    options = ReportOptions()
    data = prepare(frame, options, [])
    return Context(data, options, strategy_styles(data["strategy"]), [])


def _expected(frame: pd.DataFrame) -> dict[str, float]:
    """The verdict of one dataset, straight from scipy and statsmodels."""
    per_run = frame.groupby(["seed", "strategy"]).apply(
        lambda run: stats.aubc(run["n_labelled"], run["accuracy"]), include_groups=False
    )
    table = per_run.unstack("strategy")
    best = table.mean().idxmax()
    diff = table[best] - table["random"]
    low, high = sps.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=sps.sem(diff))
    others = [s for s in table.columns if s != "random"]
    raw = [sps.ttest_rel(table[s], table["random"]).pvalue for s in others]
    holm = dict(zip(others, multipletests(raw, method="holm")[1], strict=True))
    effect = TTestPower().solve_power(nobs=len(diff), alpha=0.05, power=0.8)
    return {
        "best": best, "aubc": table[best].mean(), "gain": diff.mean(), "low": low, "high": high,
        "p": holm[best], "detectable": effect * diff.std(ddof=1),
    }  # fmt: skip


def _check(frame: pd.DataFrame) -> pd.Series:
    row = findings(_context(frame)).iloc[0]
    expected = _expected(frame)
    assert row["challenger"] == expected["best"] and row["n"] == len(SEEDS)
    for key in ("aubc", "gain", "low", "high", "detectable"):
        assert row[key] == pytest.approx(expected[key], rel=1e-6), key
    assert row["p_holm"] == pytest.approx(expected["p"], rel=1e-6)
    return row


def test_a_real_winner_is_called_significant():
    frame = synthetic_results(("d",), STRATEGIES, SEEDS, noise=0.01, step=0.03)
    row = _check(frame)
    assert row["p_holm"] < 0.05 and row["low"] > 0
    report = build_report(frame)
    text = " ".join(report.verdict)
    assert "good has the highest mean AUBC" in text and "is significant at α = 0.05" in text
    assert "2 significantly better, 0 significantly worse" in text


def test_no_winner_says_so_with_the_detectable_difference():
    frame = synthetic_results(("d",), STRATEGIES, SEEDS, noise=0.08, step=0.0, seed=3)
    row = _check(frame)
    assert row["p_holm"] >= 0.05
    report = build_report(frame)
    assert report.verdict[0] == "No strategy differs significantly from random in AUBC anywhere."
    assert f"at least {100 * row['detectable']:.1f} pp would be detected" in report.verdict[1]
    table = next(t for t in report.tables() if t.title == "Best strategy against the baseline")
    assert table.frame.iloc[0]["detectable at 80% power (pp)"] == f"{100 * row['detectable']:.1f}"
    assert not table.highlight.to_numpy().any()


def test_baseline_in_the_lead_is_set_against_the_best_other():
    frame = synthetic_results(("d",), ("good", "other", "random"), SEEDS, step=0.03)
    row = findings(_context(frame)).iloc[0]
    assert row["leader"] == "random" and row["challenger"] == "other" and row["gain"] < 0
    (line,) = build_report(frame).verdict
    assert line.startswith("d: the baseline random has the highest mean AUBC")
    assert f"best other strategy, other, is {100 * row['gain']:+.1f} pp against it" in line


def test_across_datasets_in_words():
    frame = synthetic_results(tuple("abcd"), STRATEGIES, (0, 1), step=0.03)
    text = build_report(frame).verdict[-1]
    assert text.startswith("Across 4 datasets (all datasets), average ranks (1 is best): good 1.00")
    scores = np.tile([3.0, 2.0, 1.0], (4, 1))  # good, other, random on every dataset
    p = sps.friedmanchisquare(*scores.T).pvalue
    assert p < 0.05 and f"Friedman p = {p:.3f}" in text
    cd = sps.studentized_range.ppf(0.95, 3, np.inf) / np.sqrt(2) * np.sqrt(3 * 4 / (6 * 4))
    assert f"critical difference {cd:.2f}: good ranks significantly better than random" in text
