"""Report sections for what scenarios change (``albench.scenarios``): how each class fared,
and what the annotator cost (wrong labels, wasted queries).

Each section appears only when the results record its columns with something to show, so
a report of runs from before these columns existed reads as it did.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from albench.report import tables
from albench.report.context import Context
from albench.report.model import Section, TableBlock

#: per-class metrics at the last round: column -> heading
CLASS_METRICS = {
    "accuracy": "accuracy (%)",
    "balanced_accuracy": "balanced accuracy (%)",
    "worst_class_accuracy": "worst class (%)",
}


def _last_rounds(ctx: Context) -> pd.DataFrame:
    data = ctx.data
    return data[data["round"] == data.groupby("env")["round"].transform("max")]


def _per_env(
    frame: pd.DataFrame, columns: dict[str, str], shown: Callable[[float], str]
) -> pd.DataFrame:
    """Means over seeds per (env, strategy) of ``columns`` (column -> heading), as text, the
    env as the index."""
    means = frame.groupby(["env", "strategy"], sort=True)[list(columns)].mean()
    return pd.DataFrame(
        {
            "strategy": means.index.get_level_values("strategy"),
            **{heading: means[c].map(shown).to_numpy() for c, heading in columns.items()},
        },
        index=pd.Index(means.index.get_level_values("env")),
    )


def per_class(ctx: Context) -> Section:
    """Accuracy, balanced accuracy and worst-class accuracy after the last round."""
    last = _last_rounds(ctx)
    if last["worst_class_accuracy"].isna().all():
        return Section("Accuracy per class")
    text = _per_env(last, CLASS_METRICS, tables.percent)
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = (
        "Means over seeds after the last round, on the test split: accuracy, the mean of the "
        "per-class accuracies (balanced), and the lowest per-class accuracy. On a long-tailed "
        "pool (long-tail scenario) the test split stays balanced, so the last two show what "
        "the rare classes lost."
    )
    block = TableBlock("Accuracy per class", text, highlight, "environment", caption)
    return Section("Accuracy per class", "", [block])


#: what the annotator cost, per run at the last round: column -> heading
ANNOTATOR_COSTS = {
    "n_wasted_queries": "wasted queries",
    "n_wrong_labels": "wrong labels",
}


def annotator(ctx: Context) -> Section:
    """Wasted queries (open set) and wrong labels (noisy oracle) per strategy, when any."""
    last = _last_rounds(ctx)
    shown = {c: name for c, name in ANNOTATOR_COSTS.items() if last[c].fillna(0).gt(0).any()}
    if not shown:
        return Section("Annotator")
    costs = last.assign(**{c: last[c].astype(float) for c in shown})
    text = _per_env(costs, shown, lambda value: f"{value:.1f}")
    means = costs.groupby(["env", "strategy"], sort=True)[[*shown, "n_labelled"]].mean()
    for column, heading in shown.items():
        share = (100 * means[column] / means["n_labelled"]).map(lambda v: f"{v:.1f}")
        text.insert(text.columns.get_loc(heading) + 1, f"{heading} (%)", share.to_numpy())
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = (
        "Means over seeds after the last round. Wasted queries: images outside an open-set "
        "task, which cost budget and gave no label; wrong labels: labels a noisy annotator "
        "revealed wrongly. (%): as a share of every query made, the initial set included."
    )
    block = TableBlock("What the annotator cost", text, highlight, "environment", caption)
    return Section("Annotator", "", [block])


SECTIONS = (per_class, annotator)
