"""Statistics of albench.stats checked against hand-computed values, scipy and scikit-posthocs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from scipy import stats as sps

from albench import stats

X, Y = [0, 10, 20], [0.5, 0.7, 0.8]


def test_aubc_full_budget_hand_value():
    # (0.5 + 0.7) / 2 * 10 + (0.7 + 0.8) / 2 * 10 = 13.5 over a span of 20
    assert stats.aubc(X, Y) == pytest.approx(0.675)


def test_aubc_ignores_input_order():
    assert stats.aubc(X[::-1], Y[::-1]) == pytest.approx(0.675)


def test_aubc_low_budget_window_interpolates_at_edge():
    # window [0, 20/3]; accuracy at the edge 0.5 + 0.02 * 20/3; mean of the trapezoid
    edge_accuracy = 0.5 + 0.02 * 20 / 3
    assert stats.aubc(X, Y, fraction=1 / 3) == pytest.approx((0.5 + edge_accuracy) / 2)


def test_aubc_window_ending_on_a_budget_point():
    assert stats.aubc(X, Y, fraction=0.5) == pytest.approx(0.6)


def test_aubc_single_point_is_that_accuracy():
    assert stats.aubc([40], [0.42]) == pytest.approx(0.42)


def test_aubc_rejects_bad_fraction():
    with pytest.raises(ValueError):
        stats.aubc(X, Y, fraction=0)


def test_t_interval_matches_scipy():
    values = np.array([0.61, 0.64, 0.58, 0.66, 0.63])
    mean, half = stats.t_interval(values)
    low, high = sps.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sps.sem(values))
    assert mean == pytest.approx(values.mean())
    assert half == pytest.approx((high - low) / 2)


def test_t_interval_single_value_has_no_width():
    mean, half = stats.t_interval([0.5])
    assert mean == 0.5 and np.isnan(half)


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(3)
    a = rng.normal(0.7, 0.05, 8)
    b = a - rng.normal(0.02, 0.03, 8)
    result = stats.paired_test(a, b)
    assert result.t_p == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert result.wilcoxon_p == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert result.mean_diff == pytest.approx(np.mean(a - b))
    assert result.n == 8


def test_paired_test_identical_samples_and_too_few_pairs():
    assert stats.paired_test([0.5, 0.6], [0.5, 0.6]).t_p == 1.0
    assert np.isnan(stats.paired_test([0.5], [0.4]).t_p)


def test_holm_hand_example():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .02 .03 .06 .06
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan():
    adjusted = stats.holm([0.6, np.nan, 0.02])
    np.testing.assert_allclose(adjusted, [0.6, np.nan, 0.04])
    assert stats.holm([0.9, 0.8])[0] == 1.0


def test_holm_matches_statsmodels_when_present():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(0).uniform(0, 0.2, 12)
    expected = multitest.multipletests(p, method="holm")[1]
    np.testing.assert_allclose(stats.holm(p), expected)


@pytest.mark.parametrize("n", [4, 5, 6, 8])
def test_wilcoxon_floor_is_scipys_smallest_p(n):
    a = np.arange(1.0, n + 1)
    assert stats.wilcoxon_p_floor(n) == pytest.approx(sps.wilcoxon(a, np.zeros(n)).pvalue)


def _summary(values: dict[str, list[float]], dataset: str = "d") -> pd.DataFrame:
    rows = [
        {"dataset": dataset, "strategy": s, "seed": seed, "aubc": v}
        for s, vs in values.items()
        for seed, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def test_paired_comparisons_against_baseline_and_best():
    values = {
        "random": [0.60, 0.62, 0.61, 0.59, 0.63, 0.60],
        "entropy": [0.66, 0.69, 0.65, 0.64, 0.70, 0.66],
        "coreset": [0.61, 0.63, 0.64, 0.58, 0.62, 0.61],
    }
    table = stats.paired_comparisons(_summary(values), "aubc", ["dataset"], "random", 0.05)
    vs_base = table[table.role == "baseline"].set_index("strategy")
    assert set(vs_base.index) == {"entropy", "coreset"}
    expected = [sps.ttest_rel(values[s], values["random"]).pvalue for s in ("coreset", "entropy")]
    np.testing.assert_allclose(vs_base.loc[["coreset", "entropy"], "t_p"], expected)
    np.testing.assert_allclose(
        vs_base.loc[["coreset", "entropy"], "t_p_holm"], stats.holm(expected)
    )
    w = sps.wilcoxon(values["entropy"], values["random"]).pvalue
    assert vs_base.loc["entropy", "wilcoxon_p"] == pytest.approx(w)
    assert vs_base.loc["entropy", "significant"]
    vs_best = table[table.role == "best"]
    assert set(vs_best.reference) == {"entropy"}
    assert set(vs_best.strategy) == {"random", "coreset"}


def test_paired_comparisons_uses_only_common_seeds():
    summary = _summary({"random": [0.5, 0.6, 0.7], "entropy": [0.6, 0.7]})
    table = stats.paired_comparisons(summary, "aubc", ["dataset"], "random", 0.05)
    assert set(table.n) == {2}
    disjoint = _summary({"random": [0.5, np.nan], "entropy": [np.nan, 0.7]}).dropna()
    assert stats.paired_comparisons(disjoint, "aubc", ["dataset"], "random", 0.05).empty


def _curves(offsets: dict[str, float], rounds: int = 4, seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    base = rng.normal(0.6, 0.05, (seeds, rounds))
    rows = []
    for strategy, offset in offsets.items():
        noise = rng.normal(0, 0.002, (seeds, rounds))
        for seed in range(seeds):
            for r in range(rounds):
                value = base[seed, r] + offset + noise[seed, r]
                rows.append({"strategy": strategy, "seed": seed, "round": r, "acc": value})
    return pd.DataFrame(rows)


def test_penalty_matrix_consistent_winner():
    penalty = stats.penalty_matrix(_curves({"a": 0.1, "b": 0.0}), "acc", 0.05)
    assert penalty.matrix.loc["a", "b"] == 1.0
    assert penalty.matrix.loc["b", "a"] == 0.0
    assert penalty.budget_points == 4
    assert penalty.column_means.to_dict() == {"a": 0.0, "b": 1.0}
    assert penalty.outcomes.loc["a"].tolist() == [4, 0, 0]
    assert penalty.outcomes.loc["b"].tolist() == [0, 0, 4]


def test_penalty_matrix_ties_and_aggregation():
    # b and c differ only by noise: never significant at 0.001 with this spread
    penalty = stats.penalty_matrix(_curves({"a": 0.1, "b": 0.0, "c": 0.0}), "acc", 0.001)
    assert penalty.matrix.loc["b", "c"] == 0.0 and penalty.matrix.loc["c", "b"] == 0.0
    assert penalty.outcomes.loc["b"].tolist() == [0, 4, 4]
    assert penalty.column_means["a"] == 0.0
    assert penalty.column_means["b"] == pytest.approx(0.5)
    total = stats.sum_penalties([penalty, penalty])
    assert total.matrix.loc["a", "b"] == 2.0
    assert total.outcomes.loc["a", "wins"] == 16


SCORES = pd.DataFrame(
    np.random.default_rng(11).uniform(0.5, 0.9, (10, 4)), columns=["a", "b", "c", "d"]
)


def test_average_ranks_with_ties():
    scores = pd.DataFrame({"a": [0.9, 0.8], "b": [0.7, 0.8], "c": [0.6, 0.5]})
    ranks = stats.average_ranks(scores)
    assert ranks.to_dict() == {"a": 1.25, "b": 1.75, "c": 3.0}


def test_friedman_matches_scipy():
    expected = sps.friedmanchisquare(*(SCORES[c] for c in SCORES.columns))
    assert stats.friedman(SCORES) == pytest.approx((expected.statistic, expected.pvalue))


def test_friedman_needs_three_strategies():
    with pytest.raises(ValueError):
        stats.friedman(SCORES[["a", "b"]])


def test_nemenyi_matches_scikit_posthocs():
    expected = scikit_posthocs.posthoc_nemenyi_friedman(SCORES)
    pd.testing.assert_frame_equal(stats.nemenyi(SCORES), expected, check_names=False)


def test_critical_difference_matches_demsar_table():
    # Demšar (2006), table 5(a): q_0.05 = 2.569 for k = 4
    assert stats.critical_difference(4, 10, 0.05) == pytest.approx(
        2.569 * np.sqrt(4 * 5 / 60), abs=1e-3
    )
    assert stats.critical_difference(4, 10, 0.05) == pytest.approx(1.483, abs=1e-3)


def test_cd_groups_join_close_ranks():
    ranks = pd.Series({"a": 1.0, "b": 1.5, "c": 2.4, "d": 3.6})
    assert stats.cd_groups(ranks, 1.0) == [("a", "b"), ("b", "c")]
    assert stats.cd_groups(ranks, 3.0) == [("a", "b", "c", "d")]
    assert stats.cd_groups(ranks, 0.1) == []


def test_run_summary_per_run_values():
    results = pd.DataFrame(
        {
            "run_id": ["r1"] * 3 + ["r2"] * 3,
            "dataset": "d",
            "strategy": ["s"] * 3 + ["t"] * 3,
            "seed": 0,
            "round": [2, 0, 1] * 2,
            "n_labelled": [20, 0, 10] * 2,
            "accuracy": [0.8, 0.5, 0.7, 0.6, 0.6, 0.6],
        }
    )
    summary = stats.run_summary(results, "accuracy", 0.5, ["dataset"]).set_index("run_id")
    assert summary.loc["r1", "aubc"] == pytest.approx(0.675)
    assert summary.loc["r1", "aubc_low"] == pytest.approx(0.6)
    assert summary.loc["r1", "final"] == pytest.approx(0.8)
    assert summary.loc["r2", "aubc"] == pytest.approx(0.6)


def test_vectorised_paired_tests_equal_scipy_per_column():
    rng = np.random.default_rng(5)
    a = rng.normal(0.6, 0.05, (7, 4))
    b = a - rng.normal(0.01, 0.03, (7, 4))
    b[:, 1] = a[:, 1]  # identical: a tie, p = 1
    a[0, 2] = np.nan  # one missing pair: 6 pairs left
    b[1:, 3] = np.nan  # a single pair: untestable
    n, diff, t_p, w_p = stats.paired_tests(a, b)
    assert n.tolist() == [7, 7, 6, 1]
    assert t_p[0] == pytest.approx(sps.ttest_rel(a[:, 0], b[:, 0]).pvalue)
    assert w_p[0] == pytest.approx(sps.wilcoxon(a[:, 0], b[:, 0]).pvalue)
    assert t_p[2] == pytest.approx(sps.ttest_rel(a[1:, 2], b[1:, 2]).pvalue)
    assert w_p[2] == pytest.approx(sps.wilcoxon(a[1:, 2], b[1:, 2]).pvalue)
    assert diff[2] == pytest.approx(np.mean(a[1:, 2] - b[1:, 2]))
    assert (t_p[1], w_p[1]) == (1.0, 1.0)
    assert np.isnan(t_p[3]) and np.isnan(w_p[3])


def test_penalty_matrix_identical_strategies_tie():
    curves = _curves({"a": 0.0})
    curves = pd.concat([curves, curves.assign(strategy="b")])
    penalty = stats.penalty_matrix(curves, "acc", 0.05)
    assert penalty.matrix.to_numpy().sum() == 0
    assert penalty.outcomes.loc["a"].tolist() == [0, 4, 0]


# --------------------------------------------------------------------------- verdict numbers


def test_paired_interval_matches_scipy_and_the_paired_t_test():
    rng = np.random.default_rng(5)
    a = rng.normal(0.7, 0.03, 6)
    b = a - rng.normal(0.01, 0.02, 6)
    interval = stats.paired_interval(a - b)
    low, high = sps.t.interval(0.95, 5, loc=np.mean(a - b), scale=sps.sem(a - b))
    assert (interval.low, interval.high) == pytest.approx((low, high))
    assert interval.sd == pytest.approx(np.std(a - b, ddof=1)) and interval.n == 6
    # the interval excludes zero exactly when the paired t-test rejects at 5 %
    assert (interval.low > 0 or interval.high < 0) == (sps.ttest_rel(a, b).pvalue < 0.05)


def test_paired_interval_degenerate_cases():
    assert np.isnan(stats.paired_interval([0.02]).low)
    flat = stats.paired_interval([0.01, 0.01, 0.01])
    assert (flat.low, flat.high, flat.sd) == (0.01, 0.01, 0.0)


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_detectable_difference_has_80_percent_power(n):
    from statsmodels.stats.power import TTestPower

    sd = 0.02
    delta = stats.detectable_difference(sd, n)
    # power of the two-sided paired t-test at that difference, from scipy's noncentral t
    df, nc = n - 1, delta / sd * np.sqrt(n)
    critical = sps.t.ppf(0.975, df)
    power = sps.nct.sf(critical, df, nc) + sps.nct.sf(critical, df, -nc)  # both tails
    assert power == pytest.approx(0.8, abs=1e-6)
    expected = sd * TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8)
    assert delta == pytest.approx(expected, rel=1e-5)


def test_detectable_difference_without_spread_or_pairs():
    assert stats.detectable_difference(0.0, 3) == 0.0
    assert np.isnan(stats.detectable_difference(0.01, 1))


def test_curve_intervals_standard_error_matches_scipy():
    rows = pd.DataFrame(
        {"env": "d", "strategy": "s", "round": 0, "seed": [0, 1, 2], "n_labelled": 10,
         "accuracy": [0.5, 0.56, 0.6]}
    )  # fmt: skip
    curve = stats.curve_intervals(rows, "accuracy", ["env"]).iloc[0]
    assert curve["se"] == pytest.approx(sps.sem([0.5, 0.56, 0.6]))
    assert curve["half_width"] == pytest.approx(sps.t.ppf(0.975, 2) * curve["se"])


def test_paired_curve_differences_pair_by_seed():
    rng = np.random.default_rng(2)
    base = rng.normal(0.6, 0.05, (3, 4))  # seeds x rounds
    gain = rng.normal(0.02, 0.01, (3, 4))
    rows = [
        {"env": "d", "strategy": name, "seed": seed, "round": r, "n_labelled": 10 * (r + 1),
         "accuracy": base[seed, r] + (gain[seed, r] if name == "good" else 0)}
        for name in ("random", "good") for seed in range(3) for r in range(4)
    ]  # fmt: skip
    diffs = stats.paired_curve_differences(pd.DataFrame(rows), "accuracy", ["env"], "random")
    assert diffs["strategy"].unique().tolist() == ["good"]
    low, high = sps.t.interval(0.95, 2, loc=gain[:, 1].mean(), scale=sps.sem(gain[:, 1]))
    second = diffs[diffs["round"] == 1].iloc[0]
    assert second["mean"] == pytest.approx(gain[:, 1].mean())
    assert second["half_width"] == pytest.approx((high - low) / 2)
    assert second["n_labelled"] == 20 and second["n"] == 3


# --------------------------------------------------------------------------- diagnostics


def test_class_balance_entropy_hand_values():
    assert stats.class_balance_entropy([3, 3, 3]) == pytest.approx(1.0)
    assert stats.class_balance_entropy([5, 0, 0]) == pytest.approx(0.0)
    # an empty class keeps the value defined: (-1/2 ln 1/2) * 2 / ln 3
    assert stats.class_balance_entropy([2, 2, 0]) == pytest.approx(np.log(2) / np.log(3))
    assert np.isnan(stats.class_balance_entropy([0, 0]))


# --------------------------------------------------------------------------- label efficiency


def test_labels_to_reach_interpolates_between_budget_points():
    x, y = [10, 20, 30, 40], [0.50, 0.60, 0.70, 0.72]
    # 0.65 lies halfway between 20 (0.60) and 30 (0.70)
    assert stats.labels_to_reach(x, y, 0.65) == pytest.approx(25)
    assert stats.labels_to_reach(x, y, 0.40) == 10
    assert np.isnan(stats.labels_to_reach(x, y, 0.80))


def test_label_speedups_hand_example():
    rows = pd.DataFrame(
        {"env": "d", "seed": 0, "round": [0, 1, 2, 0, 1, 2],
         "strategy": ["random"] * 3 + ["fast"] * 3, "n_labelled": [10, 20, 30] * 2,
         "accuracy": [0.5, 0.6, 0.66, 0.5, 0.7, 0.75]}
    )  # fmt: skip
    speed = stats.label_speedups(rows, "accuracy", ["env"], "random").iloc[0]
    # random ends at 0.66 with 30 labels; "fast" gets there at 10 + 10 * 0.16 / 0.2 = 18
    assert speed["strategy"] == "fast" and speed["baseline_labels"] == 30
    assert speed["labels"] == pytest.approx(18)
    assert speed["speedup"] == pytest.approx(30 / 18)
