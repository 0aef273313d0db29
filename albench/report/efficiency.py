"""Reference accuracies and label efficiency: how many labels a strategy needs.

References (:mod:`albench.reference`) are matched to the report's environments: a full-data
reference by dataset, backbone, learner with its effective hyper-parameters and splits; a
zero-shot one by dataset, backbone and splits. Label efficiency is then read off each run's
learning curve, paired with the reference of the same seed:

- labels needed to reach 90 % and 95 % of the full-data accuracy (interpolated between
  budget points; runs that never get there are counted, not averaged);
- the speed-up against the baseline at equal accuracy: the baseline's final number of labels
  over the labels the strategy needed to match the baseline's final accuracy
  (:func:`albench.stats.label_speedups`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from albench import stats
from albench.report.context import KEYS, Context
from albench.report.model import Section, TableBlock
from albench.report.tables import DASH

#: Fractions of the full-data accuracy whose label cost is reported.
TARGETS = (0.90, 0.95)
SPLITS = ["dataset", "backbone", "pool_size", "test_size"]
LEARNER = ["learner", "hyperparameters"]


def match(data: pd.DataFrame, references: pd.DataFrame, metric: str) -> pd.DataFrame:
    """References per environment: columns env, kind, seed, value (the metric)."""
    if references.empty:
        return pd.DataFrame(columns=["env", "kind", "seed", "value"])
    envs = data.drop_duplicates("env")[["env", *SPLITS, *LEARNER]]
    full = references[references["kind"] == "full data"].merge(envs, on=[*SPLITS, *LEARNER])
    zero = references[references["kind"] == "zero-shot"].drop(columns=LEARNER)
    zero = zero.merge(envs.drop(columns=LEARNER), on=SPLITS)
    matched = pd.concat([full, zero], ignore_index=True)
    return matched.rename(columns={metric: "value"})[["env", "kind", "seed", "value"]]


def _summary(values: pd.Series, digits: int = 0, unit: str = "") -> str:
    """``mean ± t half-width`` over the runs that got there, and how many did not."""
    reached = values.dropna()
    if reached.empty:
        return "not reached"
    mean, half = stats.t_interval(reached.to_numpy())
    text = f"{mean:.{digits}f}{unit}"
    text += "" if np.isnan(half) else f" ± {half:.{digits}f}"
    missed = len(values) - len(reached)
    return f"{text} ({missed} of {len(values)} not reached)" if missed else text


def _labels_to_targets(ctx: Context, full: pd.DataFrame) -> pd.DataFrame:
    """Per run: labels to reach each target fraction of its seed's full-data accuracy."""
    reference = full.groupby(["env", "seed"])["value"].mean()
    rows = []
    for (env, strategy, seed), run in ctx.data.groupby(["env", "strategy", "seed"], sort=True):
        if (env, seed) not in reference.index:
            continue
        target = reference[(env, seed)]
        curve = (run["n_labelled"], run[ctx.options.metric])
        needed = {t: stats.labels_to_reach(*curve, t * target) for t in TARGETS}
        rows.append({"env": env, "strategy": strategy, "seed": seed, **needed})
    return pd.DataFrame(rows, columns=["env", "strategy", "seed", *TARGETS])


def label_efficiency(ctx: Context) -> Section:
    """Labels to reach fractions of full-data accuracy, and speed-ups against the baseline."""
    baseline = ctx.options.baseline
    speedups = stats.label_speedups(ctx.data, ctx.options.metric, KEYS, baseline)
    full = ctx.references[ctx.references["kind"] == "full data"]
    reached = _labels_to_targets(ctx, full) if not full.empty else pd.DataFrame()
    columns: dict[str, pd.Series] = {}
    if not reached.empty:
        grouped = reached.groupby(["env", "strategy"], sort=True)
        for target in TARGETS:
            columns[f"labels to {target:.0%} of full data"] = grouped[target].agg(_summary)
    if not speedups.empty:
        grouped = speedups.groupby(["env", "strategy"], sort=True)
        columns[f"speed-up over {baseline}"] = grouped["speedup"].agg(_summary, digits=2, unit="×")
    if not columns:
        return Section("Label efficiency")
    text = pd.DataFrame(columns).fillna(DASH)
    env, strategy = text.index.get_level_values(0), text.index.get_level_values(1)
    text.insert(0, "strategy", strategy)
    text.index = pd.Index(env)
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = (
        "Mean ± 95 % t half-width over seeds. Labels to a fraction of the full-data accuracy "
        "of the same seed, interpolated between budget points. Speed-up: the baseline's final "
        "labels over the labels the strategy needed to reach the baseline's final accuracy "
        "(2× = half the labels); runs that never reached a target are counted, not averaged."
    )
    if full.empty:
        ctx.notes.append("No full-data reference for these results: labels to a fraction of "
                         "full-data accuracy are not shown.")  # fmt: skip
    return Section("Label efficiency", "", [TableBlock("Label efficiency", text, highlight,
                                                        "environment", caption)])  # fmt: skip
