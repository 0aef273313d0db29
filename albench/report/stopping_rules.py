"""What each stopping rule would have cost or saved: accuracy at its round vs the full budget.

Every run records the round at which each stopping rule of :mod:`albench.stopping`, at its
default options, would have stopped it (``stop_rounds``). Per environment and strategy
this section shows the mean stopping round and labels, how many runs the rule stopped at
all (a rule that never fires runs to the end of the budget, so its round is the last), the
metric at that round, the metric after the full budget, and their paired difference.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from albench import stats
from albench.report.context import Context
from albench.report.model import Section, TableBlock
from albench.stopping import STOPPING_RULES

COLUMNS = ["env", "strategy", "seed", "rule", "round", "stopped", "labels", "at_stop", "final"]


def stop_outcomes(data: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (run, rule) of the runs that recorded ``stop_rounds``: :data:`COLUMNS`."""
    rows = []
    for _, run in data.groupby("run_id", sort=True):
        recorded = run["stop_rounds"].iloc[0]
        if not isinstance(recorded, str) or not recorded:
            continue
        run = run.sort_values("round").set_index("round")
        last = run.index[-1]
        first = run.iloc[0]
        for rule, round_ in json.loads(recorded).items():
            at = last if round_ is None else round_
            rows.append(
                [first["env"], first["strategy"], first["seed"], rule, at, round_ is not None,
                 run.at[at, "n_labelled"], run.at[at, metric], run.at[last, metric]]
            )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def _difference(values: pd.Series) -> str:
    mean, half = stats.t_interval(values.to_numpy())
    text = f"{100 * mean:+.2f}"
    return text if np.isnan(half) else f"{text} ± {100 * half:.2f}"


def section(ctx: Context) -> Section:
    """The table of stopping rules, or nothing for results that recorded none."""
    outcomes = stop_outcomes(ctx.data, ctx.options.metric)
    if outcomes.empty:
        return Section("Stopping rules")
    order = {name: position for position, name in enumerate(STOPPING_RULES)}
    outcomes = outcomes.assign(
        order=outcomes["rule"].map(order).fillna(len(order)),
        difference=outcomes["at_stop"] - outcomes["final"],
    )
    grouped = outcomes.sort_values(["env", "strategy", "order"], kind="stable").groupby(
        ["env", "strategy", "rule"], sort=False
    )
    label = ctx.metric_label
    text = pd.DataFrame(
        {
            "strategy": grouped["strategy"].first(),
            "rule": grouped["rule"].first(),
            "round": grouped["round"].mean().map("{:.1f}".format),
            "stopped": grouped["stopped"].agg(lambda s: f"{int(s.sum())} of {len(s)}"),
            "labels": grouped["labels"].mean().map("{:.0f}".format),
            f"{label} at stop (%)": grouped["at_stop"].mean().map(lambda v: f"{100 * v:.2f}"),
            f"final {label} (%)": grouped["final"].mean().map(lambda v: f"{100 * v:.2f}"),
            "difference (pp)": grouped["difference"].agg(_difference),
        }
    )
    text.index = pd.Index(text.index.get_level_values("env"), name="env")
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = (
        "Means over seeds. Round and labels: where each rule, at its default options, would "
        "have stopped (a run the rule never stopped counts at its last round; 'stopped' says "
        f"how many runs it stopped). Difference: {label} at the stop minus after the full "
        "budget, paired by run, mean ± 95 % t half-width. Rules: "
        + "; ".join(
            f"{name}: {rule.summary} ({rule.reference})" for name, rule in STOPPING_RULES.items()
        )
        + "."
    )
    intro = (
        "When a user without test labels would have stopped buying labels, and what that "
        "stop would have cost against spending the whole budget."
    )
    return Section("Stopping rules", intro, [TableBlock("Stopping rules", text, highlight,
                                                        "environment", caption)])  # fmt: skip
