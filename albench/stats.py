"""Statistics of active-learning results: AUBC, paired tests, penalty matrix, rank tests.

Pure functions on arrays and DataFrames (no plotting, no I/O), so every number in a report
can be recomputed and tested alone. The comparisons follow the two standard protocols of the
field:

- within one dataset, runs of different strategies that share a seed start from the same
  initial labelled set, so they are compared *paired by seed* (paired t-test and Wilcoxon
  signed-rank, Holm-corrected over the strategies compared to one reference), and budget
  point by budget point in the pairwise penalty matrix of Ash et al. (ICLR 2020, "Deep Batch
  Active Learning by Diverse, Uncertain Gradient Lower Bounds", sec. 5, pairwise
  comparisons);
- across datasets, strategies are ranked per dataset and compared with the Friedman test,
  the Nemenyi post-hoc test and the critical difference of Demšar (JMLR 2006, "Statistical
  Comparisons of Classifiers over Multiple Data Sets", sec. 3.2.2).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import optimize
from scipy import stats as sps

#: Quantities summarised per run: AUBC over the whole budget, AUBC over the low-budget
#: window, and the metric after the last round.
RUN_VALUES = ("aubc", "aubc_low", "final")


# --------------------------------------------------------------------------- AUBC


def aubc(n_labelled: Sequence[float], accuracy: Sequence[float], fraction: float = 1.0) -> float:
    """Area under the budget curve, normalised to a mean accuracy in [0, 1].

    The trapezoidal area under ``accuracy`` against ``n_labelled`` over the window
    ``[x_min, x_min + fraction * (x_max - x_min)]``, divided by the window's width, so that
    curves over different budgets stay comparable (Zhan et al., "A Comparative Survey of Deep
    Active Learning", 2022, use the same normalised AUBC). The curve is linearly interpolated
    at the window's right edge. A curve with a single budget point has a zero-width window;
    its AUBC is that point's accuracy.
    """
    x = np.asarray(n_labelled, dtype=float)
    y = np.asarray(accuracy, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError("n_labelled and accuracy must be non-empty 1-d arrays of equal length")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    span = x[-1] - x[0]
    if span == 0:
        return float(y.mean())
    edge = x[0] + fraction * span
    inside = x < edge
    xs = np.append(x[inside], edge)
    ys = np.append(y[inside], np.interp(edge, x, y))
    area = np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2)
    return float(area / (edge - x[0]))


def run_summary(
    results: pd.DataFrame, metric: str, low_fraction: float, keys: Sequence[str]
) -> pd.DataFrame:
    """One row per run: ``keys`` + ``strategy``, ``seed``, ``run_id`` and :data:`RUN_VALUES`.

    ``aubc`` covers the whole budget, ``aubc_low`` its first ``low_fraction`` (the regime where
    active learning matters most for CLIP adaptation), ``final`` is ``metric`` at the run's
    last round.
    """
    rows = []
    for run_id, run in results.groupby("run_id", sort=True):
        run = run.sort_values("round")
        x, y = run["n_labelled"].to_numpy(), run[metric].to_numpy()
        first = run.iloc[0]
        row = {key: first[key] for key in (*keys, "strategy", "seed")}
        row.update(
            run_id=run_id,
            aubc=aubc(x, y),
            aubc_low=aubc(x, y, low_fraction),
            final=float(y[-1]),
        )
        rows.append(row)
    columns = [*keys, "strategy", "seed", "run_id", *RUN_VALUES]
    return pd.DataFrame(rows, columns=columns)


def sweep_summary(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, aubc) of a sweep's rows, per (dataset, backbone, learner, strategy), and per
    scenario too when the rows hold more than one (a ``scenario`` column after ``dataset``).

    ``curves``: mean ``n_labelled`` and accuracy per round. ``aubc``: the mean and standard
    deviation over seeds of each run's AUBC of accuracy (:func:`run_summary`), and the
    number of seeds. Groups keep the order in which they first appear in ``rows``.
    """
    several = "scenario" in rows and rows["scenario"].astype(object).fillna("").nunique() > 1
    keys = ["dataset", *(["scenario"] if several else []), "backbone", "learner", "strategy"]
    rows = rows.assign(scenario=rows["scenario"].astype(object).fillna("")) if several else rows
    curves = (
        rows.groupby([*keys, "round"], sort=False)
        .agg(n_labelled=("n_labelled", "mean"), accuracy=("accuracy", "mean"))
        .reset_index()
    )
    per_run = run_summary(rows, "accuracy", 1.0, keys[:-1])
    order = rows.drop_duplicates(keys)[keys]
    table = (
        per_run.groupby(keys, sort=False)
        .agg(aubc=("aubc", "mean"), aubc_std=("aubc", "std"), seeds=("seed", "count"))
        .reset_index()
    )
    return curves, order.merge(table, on=keys, how="left")


# --------------------------------------------------------------------------- intervals


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided Student-t confidence interval of the mean.

    The half-width is ``t_{(1+confidence)/2, n-1} * s / sqrt(n)``; with fewer than two values
    it is NaN (no spread can be estimated).
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size < 2:
        return float(v.mean()), float("nan")
    t = sps.t.ppf((1 + confidence) / 2, v.size - 1)
    return float(v.mean()), float(t * v.std(ddof=1) / np.sqrt(v.size))


def strategy_intervals(
    summary: pd.DataFrame, value: str, keys: Sequence[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Per ``keys`` + strategy: number of seeds, mean and t-interval half-width of ``value``."""
    rows = []
    for group, frame in summary.groupby([*keys, "strategy"], sort=True):
        mean, half = t_interval(frame[value].to_numpy(), confidence)
        rows.append((*group, len(frame), mean, half))
    return pd.DataFrame(rows, columns=[*keys, "strategy", "n", "mean", "half_width"])


def curve_intervals(
    results: pd.DataFrame, value: str, keys: Sequence[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Learning curves with bands: per ``keys`` + strategy + round, the mean number of labels,
    the number of seeds, the mean of ``value``, its t-interval half-width and its standard
    error over seeds (NaN with a single seed)."""
    rows = []
    for group, frame in results.groupby([*keys, "strategy", "round"], sort=True):
        values = frame[value].to_numpy(dtype=float)
        mean, half = t_interval(values, confidence)
        se = float(sps.sem(values)) if len(values) > 1 else float("nan")
        rows.append((*group, float(frame["n_labelled"].mean()), len(frame), mean, half, se))
    columns = [*keys, "strategy", "round", "n_labelled", "n", "mean", "half_width", "se"]
    return pd.DataFrame(rows, columns=columns)


def class_balance_entropy(labelled_per_class: Sequence[int]) -> float:
    """Shannon entropy of the labelled set's class distribution over log(C), in [0, 1].

    1 is a perfectly balanced labelled set, 0 all labels in one class. Unlike a max / min
    ratio it is defined while classes are still empty (they add 0 to the entropy), so the
    least balanced strategies are never left out of a mean. NaN only for no labels at all.
    """
    counts = np.asarray(labelled_per_class, dtype=float)
    total = counts.sum()
    if counts.size < 2 or total <= 0:
        return float("nan") if total <= 0 else 1.0
    return float(sps.entropy(counts / total) / np.log(counts.size))


# --------------------------------------------------------------------------- paired tests


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm, Scand. J. Statist. 1979).

    The i-th smallest of m p-values becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))``.
    NaNs (tests that could not be run) are left NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def wilcoxon_p_floor(n_pairs: int) -> float:
    """Smallest two-sided p-value the exact Wilcoxon signed-rank test can give for n pairs.

    All n signed ranks on one side has probability 2^-n under the null; two-sided doubles it.
    With fewer than 6 pairs the floor is above 0.05, so the test can never reject at 5 %.
    """
    return float(min(1.0, 2.0 ** (1 - n_pairs)))


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of a against b: pairs used, mean of a - b and both tests' p-values."""

    n: int
    mean_diff: float
    t_p: float
    wilcoxon_p: float


def paired_tests(
    a: np.ndarray, b: np.ndarray, wilcoxon: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise paired tests of a against b (seeds x comparisons; NaN = missing pair).

    Returns per column the number of complete pairs, the mean difference, and the two-sided
    p-values of the paired t-test (``scipy.stats.ttest_rel``) and, if asked, the Wilcoxon
    signed-rank test (``scipy.stats.wilcoxon``), both with incomplete pairs omitted. Columns
    with fewer than two pairs get NaN p-values (nothing can be tested); columns whose
    differences are all zero get p = 1 rather than scipy's NaN (identical results are a tie).
    One vectorised scipy call per test keeps the penalty matrix fast.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    diff = a - b
    present = ~np.isnan(diff)
    n = present.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_diff = np.nanmean(diff, axis=0)
    tied = np.all(np.where(present, diff == 0, True), axis=0) & (n >= 2)
    t_p = np.where(tied, 1.0, np.nan)
    w_p = t_p.copy()
    testable = (n >= 2) & ~tied
    if testable.any():
        x, y = a[:, testable], b[:, testable]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t_p[testable] = sps.ttest_rel(x, y, axis=0, nan_policy="omit").pvalue
            if wilcoxon:
                w_p[testable] = sps.wilcoxon(x, y, axis=0, nan_policy="omit").pvalue
    return n, mean_diff, t_p, w_p


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedResult:
    """Paired t-test and Wilcoxon signed-rank test of two samples (see :func:`paired_tests`)."""
    column = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[:, None]
    n, mean_diff, t_p, w_p = paired_tests(*column)
    return PairedResult(int(n[0]), float(mean_diff[0]), float(t_p[0]), float(w_p[0]))


def _paired_frame(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """Seeds x strategies table of ``value``, keeping only seeds that every strategy ran."""
    return frame.pivot(index="seed", columns="strategy", values=value).dropna()


def paired_comparisons(
    summary: pd.DataFrame, value: str, keys: Sequence[str], baseline: str | None, alpha: float
) -> pd.DataFrame:
    """Each strategy against the baseline and against the best strategy, paired by seed.

    Per group of ``keys`` the "best" strategy has the highest mean ``value`` over the seeds
    common to all strategies. Holm's correction runs over the strategies compared with one
    reference (one family per group, reference and test). ``significant`` uses the
    Holm-adjusted paired t-test at ``alpha``. A missing baseline gives no baseline rows; when
    the baseline is the best strategy, its rows are not repeated as "best" rows.
    """
    rows = []
    for group, frame in summary.groupby(list(keys), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        table = _paired_frame(frame, value)
        if table.shape[1] < 2 or table.empty:
            continue
        best = str(table.mean().idxmax())
        references = {"best": best}
        if baseline is not None and baseline in table.columns:
            references = (
                {"baseline": baseline} if baseline == best else {"baseline": baseline, **references}
            )
        for role, reference in references.items():
            others = [s for s in table.columns if s != reference]
            n, diff, t_p, w_p = paired_tests(
                table[others].to_numpy(), table[[reference]].to_numpy()
            )
            t_holm, w_holm = holm(t_p), holm(w_p)
            for i, strategy in enumerate(others):
                rows.append(
                    (*group, strategy, role, reference, int(n[i]), diff[i], t_p[i], t_holm[i],
                     w_p[i], w_holm[i], bool(t_holm[i] < alpha))
                )  # fmt: skip
    columns = [*keys, "strategy", "role", "reference", "n", "mean_diff", "t_p", "t_p_holm",
               "wilcoxon_p", "wilcoxon_p_holm", "significant"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class PairedInterval:
    """Mean of paired differences, its two-sided t confidence interval, and the spread.

    ``sd`` is the standard deviation of the differences (ddof = 1); with fewer than two
    pairs the interval and the spread are NaN.
    """

    n: int
    mean: float
    low: float
    high: float
    sd: float


def paired_interval(differences: Sequence[float], confidence: float = 0.95) -> PairedInterval:
    """Student-t interval of the mean of paired differences (``scipy.stats.t.interval``).

    This is the interval that matches the paired t-test: it excludes 0 exactly when the
    two-sided test rejects at ``1 - confidence``.
    """
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return PairedInterval(0, *(float("nan"),) * 4)
    if d.size < 2:
        return PairedInterval(1, float(d.mean()), float("nan"), float("nan"), float("nan"))
    sd = float(d.std(ddof=1))
    if sd == 0:
        return PairedInterval(int(d.size), float(d.mean()), float(d.mean()), float(d.mean()), 0.0)
    low, high = sps.t.interval(confidence, d.size - 1, loc=d.mean(), scale=sd / np.sqrt(d.size))
    return PairedInterval(int(d.size), float(d.mean()), float(low), float(high), sd)


def paired_t_power(effect: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test with n pairs at standardised effect d = mean / sd.

    Under the alternative the statistic follows a noncentral t with n - 1 degrees of freedom
    and noncentrality d * sqrt(n) (``scipy.stats.nct``); the far tail is written as an upper
    tail at -nc, which scipy evaluates where its lower-tail CDF returns NaN.
    """
    df, nc = n - 1, effect * np.sqrt(n)
    critical = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(critical, df, nc) + sps.nct.sf(critical, df, -nc))


def detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest mean paired difference the two-sided paired t-test detects with ``power``.

    With n pairs whose differences spread with standard deviation ``sd`` (the observed one),
    solves :func:`paired_t_power` for the effect (``scipy.optimize.brentq``) and scales it
    back by ``sd``. NaN with fewer than two pairs or an unknown spread; 0 for no spread.
    """
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return 0.0
    high = 1.0
    while paired_t_power(high, n, alpha) < power:  # power grows with the effect
        high *= 2
    effect = optimize.brentq(lambda d: paired_t_power(d, n, alpha) - power, 0.0, high)
    return float(effect * sd)


def paired_curve_differences(
    results: pd.DataFrame,
    value: str,
    keys: Sequence[str],
    baseline: str,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each strategy minus the baseline at every round, paired by seed, with t-intervals.

    One row per ``keys`` + strategy + round: mean number of labels, pairs, mean difference and
    the half-width of its paired t-interval (NaN with one pair). Groups without the baseline
    are left out; seeds the baseline did not run are not paired.
    """
    rows = []
    for group, frame in results.groupby(list(keys), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        table = frame.pivot_table(index=["round", "seed"], columns="strategy", values=value)
        if baseline not in table.columns:
            continue
        labels = frame.groupby("round")["n_labelled"].mean()
        for strategy in (s for s in table.columns if s != baseline):
            diff = (table[strategy] - table[baseline]).dropna()
            for round_, per_seed in diff.groupby(level="round", sort=True):
                interval = paired_interval(per_seed.to_numpy(), confidence)
                half = (interval.high - interval.low) / 2
                rows.append((*group, strategy, round_, labels[round_], interval.n, interval.mean,
                             half))  # fmt: skip
    columns = [*keys, "strategy", "round", "n_labelled", "n", "mean", "half_width"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- label efficiency


def labels_to_reach(n_labelled: Sequence[float], accuracy: Sequence[float], target: float) -> float:
    """Labels at which a learning curve first reaches ``target``, linearly interpolated.

    The curve is read in order of labels; between the last point below the target and the
    first at or above it the number of labels is interpolated. NaN when it never gets there.
    """
    x = np.asarray(n_labelled, dtype=float)
    y = np.asarray(accuracy, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    reached = np.flatnonzero(y >= target)
    if reached.size == 0:
        return float("nan")
    i = int(reached[0])
    if i == 0:
        return float(x[0])
    return float(np.interp(target, [y[i - 1], y[i]], [x[i - 1], x[i]]))


def label_speedups(
    results: pd.DataFrame, value: str, keys: Sequence[str], baseline: str
) -> pd.DataFrame:
    """Labels a strategy needs to match the baseline's final ``value``, paired by seed.

    Per ``keys`` + strategy + seed: the baseline's last number of labels ``baseline_labels``,
    the labels the strategy needed to reach the baseline's accuracy there (``labels``, NaN if
    it never did) and the speed-up ``baseline_labels / labels`` (2 = half the labels).
    """
    rows = []
    for group, frame in results.groupby(list(keys), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        base = frame[frame["strategy"] == baseline]
        for seed, base_run in base.groupby("seed", sort=True):
            last = base_run.sort_values("round").iloc[-1]
            same_seed = frame[(frame["seed"] == seed) & (frame["strategy"] != baseline)]
            for strategy, run in same_seed.groupby("strategy", sort=True):
                needed = labels_to_reach(run["n_labelled"], run[value], last[value])
                speedup = last["n_labelled"] / needed if needed > 0 else float("nan")
                rows.append((*group, strategy, seed, int(last["n_labelled"]), needed, speedup))
    columns = [*keys, "strategy", "seed", "baseline_labels", "labels", "speedup"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- penalty matrix


@dataclass(frozen=True)
class Penalty:
    """Pairwise penalty matrix of Ash et al. (ICLR 2020) and the counts it is built from.

    ``matrix.loc[i, j]`` is the fraction of budget points at which strategy i beat strategy j
    significantly (summed over environments when aggregated). ``column_means`` averages each
    column over the other strategies: how often a strategy is beaten (lower is better).
    ``outcomes`` has one row per strategy with its win, tie and loss counts over all
    (opponent, budget point) comparisons that could be tested.
    """

    matrix: pd.DataFrame
    budget_points: int
    outcomes: pd.DataFrame

    @property
    def column_means(self) -> pd.Series:
        k = len(self.matrix)
        return self.matrix.sum(axis=0) / max(k - 1, 1)


def penalty_matrix(curves: pd.DataFrame, value: str, alpha: float) -> Penalty:
    """Pairwise penalty matrix for one environment (Ash et al., ICLR 2020, sec. 5).

    ``curves`` holds one row per (strategy, seed, round) with the metric in ``value``. At
    each budget point (round) and for each pair (i, j) a two-sided paired t-test over the
    common seeds runs at level ``alpha``; a significant win of i over j adds ``1 / L`` to
    ``P[i, j]``, L being the number of budget points. Pairs with fewer than two common seeds
    at a budget point are not tested (neither tie nor win).
    """
    strategies = sorted(curves["strategy"].unique())
    k = len(strategies)
    first, second = np.triu_indices(k, 1)
    wins = np.zeros((k, k))
    tested = np.zeros((k, k))
    rounds = 0
    for _, at_round in curves.groupby("round", sort=True):
        table = at_round.pivot(index="seed", columns="strategy", values=value)
        values = table.reindex(columns=strategies).to_numpy(float)
        _, diff, t_p, _ = paired_tests(values[:, first], values[:, second], wilcoxon=False)
        done = ~np.isnan(t_p)
        np.add.at(tested, (first[done], second[done]), 1)
        np.add.at(tested, (second[done], first[done]), 1)
        won = done & (t_p < alpha)
        winners = np.where(diff > 0, first, second)[won]
        losers = np.where(diff > 0, second, first)[won]
        np.add.at(wins, (winners, losers), 1)
        rounds += 1
    matrix = pd.DataFrame(wins / rounds, index=strategies, columns=strategies)
    return Penalty(matrix, rounds, _outcomes(wins, tested, strategies))


def _outcomes(wins: np.ndarray, tested: np.ndarray, strategies: list[str]) -> pd.DataFrame:
    won, lost, total = wins.sum(axis=1), wins.sum(axis=0), tested.sum(axis=1)
    return pd.DataFrame(
        {"wins": won, "ties": total - won - lost, "losses": lost},
        index=pd.Index(strategies, name="strategy"),
    ).astype(int)


def sum_penalties(penalties: Sequence[Penalty]) -> Penalty:
    """Sum of per-environment penalty matrices over their common strategies (Ash et al.).

    Each environment contributes at most 1 per cell, so the maximum entry equals the number
    of environments.
    """
    common = sorted(set.intersection(*(set(p.matrix.index) for p in penalties)))
    matrix = sum(p.matrix.loc[common, common] for p in penalties)
    outcomes = sum(p.outcomes.loc[common] for p in penalties)
    points = sum(p.budget_points for p in penalties)
    return Penalty(matrix, points, outcomes)


# --------------------------------------------------------------------------- across datasets


def average_ranks(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.Series:
    """Average rank of each strategy (column) over blocks (rows); rank 1 is best.

    Ties get the average of the ranks they span (``scipy.stats.rankdata``), as in Demšar
    (JMLR 2006, sec. 3.2.2).
    """
    signed = -scores.to_numpy(float) if higher_is_better else scores.to_numpy(float)
    ranks = sps.rankdata(signed, axis=1)
    return pd.Series(ranks.mean(axis=0), index=scores.columns, name="average_rank")


def friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman chi-square statistic and p-value over blocks (rows) x strategies (columns).

    ``scipy.stats.friedmanchisquare``; needs at least 3 strategies and 2 blocks (Demšar,
    JMLR 2006, sec. 3.2.2).
    """
    if scores.shape[1] < 3 or scores.shape[0] < 2:
        raise ValueError("the Friedman test needs at least 3 strategies and 2 datasets")
    result = sps.friedmanchisquare(*(scores[c].to_numpy(float) for c in scores.columns))
    return float(result.statistic), float(result.pvalue)


def nemenyi(scores: pd.DataFrame) -> pd.DataFrame:
    """Nemenyi post-hoc p-values between strategies after a Friedman test (Demšar, 2006).

    Blocks are rows, strategies columns (``scikit_posthocs.posthoc_nemenyi_friedman``).
    """
    table = scikit_posthocs.posthoc_nemenyi_friedman(scores.reset_index(drop=True))
    return table.loc[scores.columns, scores.columns]


def critical_difference(k: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks (Demšar, JMLR 2006, eq. in sec. 3.2.2).

    ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` where ``q_alpha`` is the studentized range
    quantile for k groups and infinite degrees of freedom divided by sqrt(2).
    """
    q = sps.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6 * n_blocks)))


def cd_groups(ranks: pd.Series, cd: float) -> list[tuple[str, ...]]:
    """Maximal runs of strategies (sorted by average rank) whose ranks differ by less than CD.

    These are the bars of Demšar's critical-difference diagram: strategies joined by a bar are
    not significantly different under the Nemenyi test. Singletons are left out.
    """
    ordered = ranks.sort_values(kind="stable")
    names, values = list(ordered.index), ordered.to_numpy()
    groups: list[tuple[str, ...]] = []
    last_end = -1
    for start in range(len(values)):
        end = int(np.searchsorted(values, values[start] + cd, side="left")) - 1
        if end > start and end > last_end:
            groups.append(tuple(names[start : end + 1]))
            last_end = end
    return groups
