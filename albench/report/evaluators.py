"""The selector x evaluator matrix: is a labelled set worth as much to another learner?

Runs with an evaluation learner (:mod:`albench.evaluator`) record, per round, the test
accuracy of a second learner fitted on the labels the run's own learner (the selector)
acquired. For each setting (dataset, backbone, protocol) the matrix has one row per
strategy with its selecting learner and one column per evaluator, the first being the
selector itself ("same as selector"); each cell is the mean over seeds of the AUBC of that
evaluator's accuracy. Runs that differ only in their evaluator made the same selections,
so their "same as selector" AUBCs are one value per seed, counted once.
"""

from __future__ import annotations

import pandas as pd

from albench import stats
from albench.report.context import Context
from albench.report.model import Section, TableBlock
from albench.report.tables import DASH, percent

SAME = "same as selector"
#: what must match for two runs to share a matrix
SETTING = ("dataset", "backbone", "initial", "budget", "rounds")


def labels(evaluators: pd.Series) -> pd.Series:
    """How an evaluator reads in environment labels ("": none)."""
    return evaluators.map(lambda name: f"evaluated by {name}" if name else "no evaluator")


def aubc_matrix(data: pd.DataFrame) -> pd.DataFrame:
    """Mean AUBC of accuracy over seeds: index "strategy (learner)", columns :data:`SAME`
    then each evaluator (sorted); NaN where a pair was not run."""
    rows = []
    for _, run in data.groupby("run_id", sort=True):
        run = run.sort_values("round")
        first = run.iloc[0]
        selector = f"{first['strategy']} ({first['learner']})"
        x = run["n_labelled"].to_numpy()
        rows.append((selector, SAME, first["seed"], stats.aubc(x, run["accuracy"].to_numpy())))
        evaluator = first["eval_learner"]
        if evaluator:
            score = stats.aubc(x, run["eval_accuracy"].to_numpy())
            rows.append((selector, evaluator, first["seed"], score))
    per_run = pd.DataFrame(rows, columns=["selector", "evaluator", "seed", "aubc"])
    per_seed = per_run.groupby(["selector", "evaluator", "seed"], sort=True)["aubc"].mean()
    matrix = per_seed.groupby(["selector", "evaluator"], sort=True).mean().unstack("evaluator")
    others = sorted(column for column in matrix.columns if column != SAME)
    return matrix[[SAME, *others]]


def section(ctx: Context) -> Section:
    """One matrix per setting with at least one evaluated run; nothing without any."""
    data = ctx.data
    if not data["eval_learner"].ne("").any():
        return Section("Selector and evaluator")
    varying = [key for key in SETTING if data[key].nunique() > 1]
    settings = data[varying].astype(str).agg(" · ".join, axis=1) if varying else None
    blocks = []
    for setting, frame in data.groupby(settings if varying else [""] * len(data), sort=True):
        if not frame["eval_learner"].ne("").any():
            continue
        matrix = aubc_matrix(frame)
        best = matrix.eq(matrix.max(axis=1), axis=0) & matrix.notna()
        text = matrix.apply(lambda column: column.map(percent)).fillna(DASH)
        title = f"AUBC by evaluator — {setting}" if setting else "AUBC by evaluator"
        caption = (
            "Rows: the strategy and the learner it selected with; columns: the learner "
            f"evaluated on its labels ({SAME}: the selecting learner's own accuracy). Mean "
            "AUBC of test accuracy (%) over seeds. Bold: the best evaluator of each row."
        )
        blocks.append(TableBlock(title, text, best, "strategy (selecting learner)", caption))
    intro = (
        "Each evaluation learner was fitted on exactly the annotated labels its run's learner "
        "acquired, without pseudo-labels; it never influenced a selection."
    )
    return Section("Selector and evaluator", intro, blocks)
