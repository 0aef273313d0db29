"""Report sections on how strategies query and what they cost, beside how well they score.

Class coverage (balance entropy of the labelled set at every round, labels per class at the
last round), calibration of the learner (expected calibration error per round), pseudo-labels
(for strategies that propose them) and runtime split by learner.
"""

from __future__ import annotations

import pandas as pd

from albench import stats
from albench.report import figures, tables
from albench.report.context import Context
from albench.report.model import FigureBlock, Section, TableBlock


def _mean_curves(data: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean of ``column`` over seeds per (env, strategy, round), with the mean labels."""
    return (
        data.groupby(["env", "strategy", "round"], sort=True)
        .agg(n_labelled=("n_labelled", "mean"), mean=(column, "mean"))
        .reset_index()
    )


def coverage(ctx: Context) -> Section:
    """Class-balance entropy per round and the labels per class after the last round."""
    frame = ctx.data.assign(entropy=ctx.data["labelled_per_class"].map(stats.class_balance_entropy))
    curves = _mean_curves(frame, "entropy")
    how = figures.Curves(zero=1.0)
    figure = figures.curve_panels(curves, ctx.styles, "class-balance entropy", how)
    caption = (
        "Shannon entropy of the labelled set's classes over log(number of classes), mean over "
        "seeds: 1 is perfectly balanced, 0 all labels in one class. Defined at every round, "
        "empty classes included."
    )
    blocks: list[FigureBlock | TableBlock] = [FigureBlock("Class balance", figure, caption)]
    last = ctx.data[ctx.data["round"] == ctx.data.groupby("env")["round"].transform("max")]
    counts = [
        {"env": row.env, "strategy": row.strategy, "class": c, "labels": n}
        for row in last.itertuples()
        for c, n in enumerate(row.labelled_per_class)
    ]
    per_class = (
        pd.DataFrame(counts).groupby(["env", "strategy", "class"], sort=True)["labels"].mean()
    ).reset_index()
    caption = "Mean labels per class (class index) after the last round, over seeds."
    blocks.append(FigureBlock("Labels per class", figures.class_counts(per_class), caption))
    return Section("Class coverage", "", blocks)


def calibration(ctx: Context) -> Section:
    """Expected calibration error of the learner per round (when the results record it)."""
    missing = ctx.data.groupby("run_id")["ece"].apply(lambda v: v.isna().all())
    if missing.all():
        ctx.notes.append("No calibration error in these results: they predate its column.")
        return Section("Calibration")
    if missing.any():
        ctx.notes.append(
            f"{int(missing.sum())} of {len(missing)} runs predate the calibration column: "
            "calibration curves use the others only."
        )
    curves = _mean_curves(ctx.data.dropna(subset=["ece"]), "ece")
    figure = figures.curve_panels(curves, ctx.styles, "ECE (%)", figures.Curves(scale=100))
    caption = (
        "Expected calibration error of the learner on the test split (15 equal-width "
        "confidence bins; Guo et al., ICML 2017), mean over seeds; lower is better."
    )
    return Section("Calibration", "", [FigureBlock("Calibration error", figure, caption)])


def pseudo_labels(ctx: Context) -> Section:
    """Pseudo-labels per strategy that proposed any: how many, how precise, labels saved."""
    used = ctx.data[ctx.data["n_pseudo"] > 0]
    if used.empty:
        return Section("Pseudo-labels")
    last = used.sort_values("round").groupby("run_id").tail(1)
    rows = last.groupby(["env", "strategy"], sort=True).agg(
        runs=("run_id", "nunique"),
        pseudo=("n_pseudo", "mean"),
        precision=("pseudo_accuracy", "mean"),
        labelled=("n_labelled", "mean"),
    )
    text = pd.DataFrame(
        {
            "strategy": rows.index.get_level_values("strategy"),
            "runs": rows["runs"].astype(str).to_numpy(),
            "pseudo-labels (last round)": rows["pseudo"].map(lambda v: f"{v:.1f}").to_numpy(),
            "precision (%)": rows["precision"].map(tables.percent).to_numpy(),
            "labels saved (%)": (100 * rows["pseudo"] / rows["labelled"])
            .map(lambda v: f"{v:.1f}")
            .to_numpy(),
        },
        index=pd.Index(rows.index.get_level_values("env")),
    )
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = (
        "Means over seeds at the last round: pseudo-labels trained on, the fraction of them "
        "that are correct, and the annotation they stand in for as a share of the labelled set."
    )
    block = TableBlock("Pseudo-labels", text, highlight, "environment", caption)
    return Section("Pseudo-labels", "", [block])


def runtime(ctx: Context) -> Section:
    """Mean selection and training seconds per round, per learner and strategy."""
    seconds = (
        ctx.data.groupby(["learner", "strategy"], sort=True)[["select_seconds", "train_seconds"]]
        .mean()
        .reset_index()
    )
    caption = "Mean seconds per round, one panel per learner; hatched bars: selection."
    blocks = [
        FigureBlock("Runtime", figures.runtime(seconds, ctx.styles), caption),
        tables.runtime_table(seconds),
    ]
    intro = "Timings depend on the device each run used (see the header)."
    return Section("Runtime", intro, blocks)


SECTIONS = (coverage, calibration, pseudo_labels, runtime)
