"""Build the content of a report (:class:`~albench.report.model.Report`) from results.

The one place where results become sections, figures, tables and notes. What cannot be
computed on the given results (too few seeds, datasets or strategies) becomes a note in the
report instead of an error; only unusable input (no rows, missing columns, unknown baseline,
ambiguous pairing) raises an :class:`~albench.errors.AlbenchError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import pandas as pd

from albench import stats
from albench.errors import ResultsError, UnknownNameError
from albench.report import (
    diagnostics,
    efficiency,
    evaluators,
    figures,
    interactive,
    scenario_tables,
    stopping_rules,
    tables,
)
from albench.report.context import BANDS, KEYS, Context, ReportOptions
from albench.report.model import FigureBlock, Report, Section, TableBlock
from albench.report.provenance import legend, provenance
from albench.report.reproduce import reproducibility
from albench.report.style import RC, strategy_styles
from albench.report.verdict import verdict
from albench.results import COLUMNS, OPTIONAL

#: Choices of the experimenter: runs differing in one of them are never paired or ranked together.
PROTOCOL_KEYS = ("backbone", "learner", "initial", "budget", "rounds", "eval_learner")
#: Properties of a dataset's splits: they differ between datasets without splitting a group.
SPLIT_KEYS = ("pool_size", "test_size")
#: The column of :func:`albench.stats.curve_intervals` each ``--band`` draws.
BAND_COLUMNS = {"se": "se", "ci95": "half_width", "none": None}
#: How a task label names the ideal annotator beside tasks under a scenario.
NO_SCENARIO = "no scenario"
WINDOWS = {"aubc": "AUBC, full budget", "aubc_low": "AUBC, low budget", "final": "final {}"}


def build_report(
    results: pd.DataFrame,
    options: ReportOptions | None = None,
    commands: Sequence[str] = (),
    references: pd.DataFrame | None = None,
) -> Report:
    """The full report: provenance, the verdict, notes, and one section per kind of analysis.

    ``commands`` are the ``albench run`` commands that reproduce the results
    (:func:`albench.report.reproduce.commands`), shown in the reproducibility section;
    ``references`` the last rows of reference runs with a ``kind`` column
    (:func:`albench.reference.references`), drawn on the curves and used for label
    efficiency.
    """
    options = options or ReportOptions()
    options.validate()
    notes: list[str] = []
    data = prepare(results, options, notes)
    context = Context(data, options, strategy_styles(data["strategy"]), notes)
    if references is not None:
        context.references = efficiency.match(data, references, options.metric)
    builders = (_curves, efficiency.label_efficiency, _aubc, _tests, _penalty, _ranks,
                evaluators.section, stopping_rules.section, *diagnostics.SECTIONS,
                *scenario_tables.SECTIONS)  # fmt: skip
    with matplotlib.rc_context(RC):
        sections = [builder(context) for builder in builders]
    sections.append(reproducibility(data, commands))
    sentences, blocks = verdict(context)
    sections.insert(0, Section("Verdict", "", list(blocks), sentences))
    return Report(
        options.title, provenance(data, options), legend(options), notes,
        [s for s in sections if s.blocks or s.intro or s.lead],
    )  # fmt: skip


# --------------------------------------------------------------------------- input


def prepare(results: pd.DataFrame, options: ReportOptions, notes: list[str]) -> pd.DataFrame:
    """Validated results with ``env`` and ``group`` label columns; problems noted or raised.

    An environment is everything that must match for runs to be paired by seed (dataset,
    scenario, backbone, learner and protocol); a group is an environment without its task
    (dataset and scenario), the unit over which tasks are compared.
    """
    missing = [c for c in COLUMNS if c not in results.columns and c not in OPTIONAL]
    if missing:
        raise ResultsError(f"results lack the columns {', '.join(missing)}")
    results = results.assign(**{c: float("nan") for c in OPTIONAL if c not in results.columns})
    if results.empty:
        raise ResultsError("no results to report: the results hold no rows")
    data = results.drop_duplicates(["run_id", "round"], keep="last")
    if len(data) < len(results):
        notes.append(f"{len(results) - len(data)} duplicated (run, round) rows were counted once.")
    known = sorted(data["strategy"].unique())
    if options.baseline not in known:
        raise UnknownNameError("baseline strategy", options.baseline, known)
    data = data.assign(
        eval_learner=data["eval_learner"].astype(object).fillna(""),
        scenario=data["scenario"].astype(object).fillna(""),
    )
    shown = data.assign(
        eval_learner=evaluators.labels(data["eval_learner"]),
        scenario=data["scenario"].replace("", NO_SCENARIO),
    )
    data = data.assign(
        env=_labels(shown, [*_task_keys(data), *_setting_keys(data)]),
        group=_labels(shown, _setting_keys(data)),
    )
    data = _complete_runs(data, notes)
    _check_pairing(data)
    return data.sort_values(["env", "strategy", "seed", "round"], kind="stable")


def _task_keys(data: pd.DataFrame) -> list[str]:
    """A task is a dataset under a scenario (``albench.scenarios``): runs of two scenarios
    are never paired, and are ranked as two tasks. The scenario enters the labels only when
    the results hold more than one, so a report of one scenario reads as it always did."""
    return ["dataset", "scenario"] if data["scenario"].nunique() > 1 else ["dataset"]


def _setting_keys(data: pd.DataFrame) -> list[str]:
    """Keys that tell settings apart: protocol keys that vary at all, split keys that vary
    within one task (different test sizes of two datasets, or a pool a scenario shrinks, are
    no different settings)."""
    protocol = [k for k in PROTOCOL_KEYS if data[k].nunique() > 1]
    within = data.groupby(_task_keys(data))[list(SPLIT_KEYS)].nunique().max()
    return protocol + [k for k in SPLIT_KEYS if within[k] > 1]


def _labels(data: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Readable labels joining the values of ``keys`` ("all datasets" when there are none)."""
    if not keys:
        return pd.Series("all datasets", index=data.index)
    return data[list(keys)].astype(str).agg(" · ".join, axis=1)


def _complete_runs(data: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Drop runs that stopped before the last round of their environment (AUBCs over a
    shorter budget are not comparable)."""
    last = data.groupby("run_id")["round"].max()
    expected = data.groupby("env")["round"].transform("max")
    short = data["round"].groupby(data["run_id"]).transform("max") < expected
    if short.any():
        dropped = sorted(data.loc[short, "run_id"].unique())
        notes.append(
            f"{len(dropped)} of {len(last)} runs stopped before the last round of their "
            f"dataset and were left out: {', '.join(dropped[:5])}"
            + (" …" if len(dropped) > 5 else "")
        )
    return data[~short]


def _check_pairing(data: pd.DataFrame) -> None:
    runs = data.drop_duplicates("run_id")
    clash = runs[runs.duplicated(["env", "strategy", "seed"], keep=False)]
    if clash.empty:
        return
    first = clash.iloc[0]
    same = clash[(clash.env == first.env) & (clash.strategy == first.strategy)]
    same = same[same.seed == first.seed]
    differ = [c for c in ("hyperparameters", "rounds", "sweep") if same[c].nunique() > 1]
    raise ResultsError(
        f"runs {', '.join(same.run_id)} are all {first.strategy!r} with seed {first.seed} on "
        f"{first.env!r} (they differ in {', '.join(differ) or 'run id only'}); report them "
        "separately so that runs pair by seed"
    )


# --------------------------------------------------------------------------- sections


def _curves(ctx: Context) -> Section:
    """Mean learning curves with the chosen band, and each strategy's paired difference
    from the baseline per round (the figure that shows who is ahead where)."""
    metric, band = ctx.options.metric, ctx.options.band
    label = f"{ctx.metric_label} (%)"
    curves = stats.curve_intervals(ctx.data, metric, KEYS)
    lines = ctx.references.groupby(["env", "kind"], sort=True)["value"].mean().reset_index()
    how = figures.Curves(band=BAND_COLUMNS[band], clip=(0, 1), scale=100, references=lines)
    figure = figures.curve_panels(curves, ctx.styles, label, how)
    charts = interactive.curve_charts(curves, ctx.styles, label, how)
    caption = (
        f"Mean {ctx.metric_label} over seeds against the number of labels; bands: "
        f"{BANDS[band]} (clipped to 0–100 %)."
    )
    if not lines.empty:
        caption += (
            " Grey lines: the learner trained on every pool label (full data, dashed) and "
            "zero-shot accuracy (dotted), means over seeds."
        )
    blocks = [FigureBlock("Learning curves", figure, caption, charts)]
    baseline = ctx.options.baseline
    diffs = stats.paired_curve_differences(ctx.data, metric, KEYS, baseline)
    if not diffs.empty:
        others = {name: style for name, style in ctx.styles.items() if name != baseline}
        how = figures.Curves(band="half_width", scale=100, zero=0.0)
        label = f"difference from {baseline} (pp)"
        figure = figures.curve_panels(diffs, others, label, how)
        charts = interactive.curve_charts(diffs, others, label, how)
        caption = (
            f"Each strategy's {ctx.metric_label} minus {baseline}'s, paired by seed, per round; "
            "bands are paired 95 % t-intervals. Above the line: ahead of the baseline."
        )
        blocks.append(FigureBlock(f"Difference from {baseline}", figure, caption, charts))
    return Section("Learning curves", "", blocks)


def _aubc(ctx: Context) -> Section:
    summary = ctx.summary
    _note_pairs(ctx, summary)
    low = f"first {ctx.options.low_fraction:.0%} of the budget span"
    captions = {
        "aubc": "Area under the budget curve over the whole budget, as a mean accuracy",
        "aubc_low": f"Area under the budget curve over the {low}",
        "final": f"{ctx.metric_label.capitalize()} after the last round",
    }
    blocks: list[FigureBlock | TableBlock] = []
    points = []
    for value, name in WINDOWS.items():
        window = name.format(ctx.metric_label)
        intervals = stats.strategy_intervals(summary, value, KEYS)
        marks = tables.markers(ctx.comparisons(value))
        caption = f"{captions[value]} (%); mean ± 95 % t half-width over seeds. Bold: best mean."
        title = window[:1].upper() + window[1:]
        blocks.append(tables.interval_table(intervals, marks, title, caption))
        if value != "final":
            points.append(intervals.assign(window=window))
    figure = figures.aubc_points(pd.concat(points), ctx.styles)
    caption = "Mean AUBC with 95 % t-intervals over seeds."
    blocks.insert(0, FigureBlock("AUBC per strategy", figure, caption))
    intro = f"Metric: {ctx.metric_label}. Low-budget window: the {low}."
    return Section("Area under the budget curve", intro, blocks)


def _note_pairs(ctx: Context, summary: pd.DataFrame) -> None:
    """Notes on what the paired tests cannot show with the seeds at hand."""
    common = pd.Series(
        {
            env: len(frame.pivot(index="seed", columns="strategy", values="aubc").dropna())
            for env, frame in summary.groupby("env", sort=True)
        }
    )
    few = sorted(common[common < 2].index)
    if few:
        ctx.notes.append(
            f"Fewer than 2 seeds shared by all strategies on {', '.join(few)}: no significance "
            "tests there (and no confidence interval for a strategy run on a single seed)."
        )
    seeds = summary.groupby(["env", "strategy"], sort=True)["seed"].agg(frozenset)
    uneven = [env for env, sets in seeds.groupby(level="env", sort=True) if sets.nunique() > 1]
    if uneven:
        ctx.notes.append(
            f"Strategies ran on different seeds on {', '.join(uneven)}: intervals use each "
            "strategy's own seeds, paired tests only the seeds all strategies share."
        )
    alpha = ctx.options.alpha
    floors = sorted({int(n) for n in common if n >= 2 and stats.wilcoxon_p_floor(n) >= alpha})
    if floors:
        shown = ", ".join(f"{n} pairs: p ≥ {stats.wilcoxon_p_floor(n):.3g}" for n in floors)
        ctx.notes.append(
            f"The Wilcoxon signed-rank test cannot reach p < {alpha} with so few pairs "
            f"({shown}); its large p-values here are floors, not evidence of no difference."
        )
    present = summary.groupby("env", sort=True)["strategy"].agg(set)
    lacking = [env for env, names in present.items() if ctx.options.baseline not in names]
    if lacking:
        ctx.notes.append(
            f"The baseline {ctx.options.baseline!r} was not run on {', '.join(lacking)}: "
            "no comparison with the baseline there."
        )


def _tests(ctx: Context) -> Section:
    blocks: list[FigureBlock | TableBlock] = []
    for value in ("aubc", "final"):
        comparisons = ctx.comparisons(value)
        if not comparisons.empty:
            title = f"Paired tests on {WINDOWS[value].format(ctx.metric_label)}"
            blocks.append(tables.comparisons_table(comparisons, ctx.options.alpha, title))
    intro = (
        "Each strategy against the baseline and against the strategy with the best mean, "
        "paired by seed (every strategy starts from the same initial labelled set per seed)."
    )
    return Section("Paired tests per dataset", intro if blocks else "", blocks)


def _penalty(ctx: Context) -> Section:
    metric, alpha = ctx.options.metric, ctx.options.alpha
    blocks: list[FigureBlock | TableBlock] = []
    # round 0 is the shared initial set: no strategy has acted yet, so it is no budget point
    acquired = ctx.data[ctx.data["round"] > 0]
    for group, frame in acquired.groupby("group", sort=True):
        per_env = [
            stats.penalty_matrix(env_frame, metric, alpha)
            for _, env_frame in frame.groupby("env", sort=True)
            if env_frame["strategy"].nunique() > 1
        ]
        if not per_env:
            ctx.notes.append(f"Only one strategy on {group}: no pairwise penalty matrix.")
            continue
        total = stats.sum_penalties(per_env)
        if len(total.matrix) < frame["strategy"].nunique():
            ctx.notes.append(
                f"Penalty matrix for {group} restricted to strategies run on every dataset."
            )
        title = f"Penalty matrix — {group}" if ctx.data["group"].nunique() > 1 else "Penalty matrix"
        caption = (
            f"Entry (i, j): fraction of budget points where i beat j in a two-sided paired "
            f"t-test over seeds at α = {alpha}, summed over {len(per_env)} dataset(s) "
            f"(maximum {len(per_env)}). Column means: how often a strategy is beaten."
        )
        blocks.append(FigureBlock(title, figures.penalty_heatmap(total), caption))
        blocks.append(tables.outcomes_table(total, f"Wins, ties and losses — {group}"))
    intro = (
        "Pairwise comparisons at every budget point after the first acquisition (Ash et al., "
        "ICLR 2020)."
    )
    if acquired.empty:
        ctx.notes.append("No acquisition rounds in the results: no pairwise penalty matrix.")
    return Section("Pairwise penalty matrix", intro if blocks else "", blocks)


def _ranks(ctx: Context) -> Section:
    alpha = ctx.options.alpha
    rank_columns, friedman_rows, blocks = {}, {}, []
    for group, scores in ctx.rank_scores.items():
        complete = scores.dropna(axis=1)
        if complete.shape[1] < scores.shape[1]:
            ctx.notes.append(f"Ranks for {group} use only strategies run on every dataset.")
        if complete.shape[1] < 2:
            continue
        ranks = stats.average_ranks(complete)
        rank_columns[group] = ranks
        n, k = complete.shape
        if k < 3 or n < 2:
            ctx.notes.append(
                f"No Friedman test for {group}: it needs at least 3 strategies and 2 datasets "
                f"(have {k} and {n})."
            )
            continue
        statistic, p = stats.friedman(complete)
        cd = stats.critical_difference(k, n, alpha)
        friedman_rows[group] = (n, k, statistic, p, cd)
        if p >= alpha:
            ctx.notes.append(
                f"Friedman test for {group} does not reject equal ranks (p = {p:.3f}): the "
                "Nemenyi comparisons are shown for completeness, no pair should be called "
                "different."
            )
        groups = stats.cd_groups(ranks, cd)
        title = f"Critical difference — {group}"
        caption = (
            f"Average ranks over {n} datasets; strategies joined by a bar are not significantly "
            f"different (Nemenyi, α = {alpha}, CD = {cd:.3f}; Demšar 2006)."
        )
        blocks.append(FigureBlock(title, figures.cd_diagram(ranks, cd, groups), caption))
        blocks.append(tables.pvalue_matrix(stats.nemenyi(complete), alpha, f"Nemenyi — {group}"))
    if rank_columns:
        blocks.insert(0, tables.ranks_table(pd.DataFrame(rank_columns), "Average ranks"))
    if friedman_rows:
        columns = ["n", "k", "statistic", "p", "cd"]
        rows = pd.DataFrame.from_dict(friedman_rows, orient="index", columns=columns)
        blocks.insert(1, tables.friedman_table(rows, alpha))
    intro = "Strategies ranked by mean AUBC on each dataset (Demšar, JMLR 2006)."
    return Section("Across datasets", intro if blocks else "", blocks)
