"""Report tables: statistics frames turned into display strings with highlighted cells.

Numbers are formatted once here, so the HTML and PDF renderers show identical text.
Accuracies and AUBC are shown in percent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from albench.report.model import TableBlock
from albench.stats import Penalty

DASH = "—"
MARK_BETTER, MARK_WORSE, MARK_BELOW_BEST = "↑", "↓", "†"


def percent(value: float, half_width: float = float("nan")) -> str:
    """``71.23 ± 0.95`` (percent), or without the interval when it is undefined."""
    if np.isnan(value):
        return DASH
    text = f"{100 * value:.2f}"
    return text if np.isnan(half_width) else f"{text} ± {100 * half_width:.2f}"


def pvalue(p: float) -> str:
    if np.isnan(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_is(p: float) -> str:
    """``p = 0.012`` or ``p < 0.001``, for p-values inside sentences."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def markers(comparisons: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Significance markers per (env, strategy) from :func:`albench.stats.paired_comparisons`."""
    marks: dict[tuple[str, str], str] = {}
    for row in comparisons[comparisons["significant"]].itertuples():
        if row.role == "baseline":
            mark = MARK_BETTER if row.mean_diff > 0 else MARK_WORSE
        elif row.mean_diff < 0:
            mark = MARK_BELOW_BEST
        else:
            continue
        key = (row.env, row.strategy)
        marks[key] = marks.get(key, "") + mark
    return marks


def _best(frame: pd.DataFrame, lower_is_better: bool = False) -> pd.DataFrame:
    """True where a column reaches its best (max, or min) value; NaNs are never best, and a
    column whose values are all equal has no best."""
    best = frame.min() if lower_is_better else frame.max()
    return frame.eq(best, axis=1) & frame.notna() & (frame.nunique() > 1)


def interval_table(
    intervals: pd.DataFrame, marks: dict[tuple[str, str], str], title: str, caption: str
) -> TableBlock:
    """Strategies x environments, ``mean ± half-width`` plus markers; best mean in bold."""
    means = intervals.pivot(index="strategy", columns="env", values="mean")
    halves = intervals.pivot(index="strategy", columns="env", values="half_width")
    text = pd.DataFrame(DASH, index=means.index, columns=means.columns)
    for strategy in means.index:
        for env in means.columns:
            cell = percent(means.loc[strategy, env], halves.loc[strategy, env])
            mark = marks.get((env, strategy), "")
            text.loc[strategy, env] = f"{cell} {mark}" if mark and cell != DASH else cell
    return TableBlock(title, text, _best(means), "strategy", caption)


def comparisons_table(comparisons: pd.DataFrame, alpha: float, title: str) -> TableBlock:
    """Paired tests, one row per (environment, strategy, reference); significant p in bold."""
    frame = comparisons.sort_values(["env", "role", "strategy"], kind="stable")
    text = pd.DataFrame(
        {
            "strategy": frame["strategy"],
            "compared with": frame["reference"] + " (" + frame["role"] + ")",
            "seeds": frame["n"].astype(str),
            "mean difference (pp)": [f"{100 * d:+.2f}" for d in frame["mean_diff"]],
            "t-test p (Holm)": frame["t_p_holm"].map(pvalue),
            "Wilcoxon p (Holm)": frame["wilcoxon_p_holm"].map(pvalue),
        }
    )
    text.index = pd.Index(frame["env"])
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    highlight["t-test p (Holm)"] = (frame["t_p_holm"] < alpha).to_numpy()
    highlight["Wilcoxon p (Holm)"] = (frame["wilcoxon_p_holm"] < alpha).to_numpy()
    caption = (
        "Two-sided paired tests over seeds, Holm-corrected over the strategies compared "
        f"with one reference; bold: p < {alpha}."
    )
    return TableBlock(title, text, highlight, "environment", caption)


def outcomes_table(penalty: Penalty, title: str) -> TableBlock:
    """Win / tie / loss counts and the penalty column mean per strategy."""
    numbers = penalty.outcomes.assign(beaten=penalty.column_means)
    text = numbers.astype(str)
    text["beaten"] = numbers["beaten"].map(lambda v: f"{v:.3f}")
    highlight = pd.DataFrame(False, index=numbers.index, columns=numbers.columns)
    highlight["wins"] = _best(numbers[["wins"]])["wins"]
    highlight[["losses", "beaten"]] = _best(numbers[["losses", "beaten"]], lower_is_better=True)
    text.columns = ["wins", "ties", "losses", "penalty column mean"]
    highlight.columns = text.columns
    caption = (
        "Counts over (opponent, budget point) pairs; the column mean is how often a strategy is "
        "beaten on average (lower is better). Bold: best per column."
    )
    return TableBlock(title, text, highlight, "strategy", caption)


def ranks_table(ranks: pd.DataFrame, title: str) -> TableBlock:
    """Average ranks (strategies x groups); lowest rank in bold."""
    text = ranks.map(lambda v: DASH if np.isnan(v) else f"{v:.2f}")
    caption = "Average rank of mean AUBC over datasets (1 is best; ties share ranks)."
    return TableBlock(title, text, _best(ranks, lower_is_better=True), "strategy", caption)


def friedman_table(rows: pd.DataFrame, alpha: float) -> TableBlock:
    """One row per group: datasets, strategies, Friedman statistic and p, critical difference."""
    text = pd.DataFrame(
        {
            "datasets (N)": rows["n"].astype(str),
            "strategies (k)": rows["k"].astype(str),
            "Friedman χ²": rows["statistic"].map(lambda v: f"{v:.2f}"),
            "p": rows["p"].map(pvalue),
            f"critical difference (α = {alpha})": rows["cd"].map(lambda v: f"{v:.3f}"),
        },
        index=rows.index,
    )
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    highlight["p"] = (rows["p"] < alpha).to_numpy()
    caption = f"Friedman test with Nemenyi critical difference (Demšar 2006); bold: p < {alpha}."
    return TableBlock("Friedman tests", text, highlight, "group", caption)


def pvalue_matrix(pvalues: pd.DataFrame, alpha: float, title: str) -> TableBlock:
    """A symmetric matrix of p-values; p < alpha in bold; diagonal blank."""
    text = pvalues.map(pvalue)
    for name in pvalues.index:
        text.loc[name, name] = ""
    highlight = pvalues < alpha
    caption = f"Nemenyi post-hoc p-values; bold: p < {alpha}."
    return TableBlock(title, text, highlight, "strategy", caption)


def runtime_table(seconds: pd.DataFrame) -> TableBlock:
    """Mean selection and training seconds per round, per learner and strategy; the fastest
    under each learner in bold."""
    numbers = seconds[["select_seconds", "train_seconds"]].reset_index(drop=True)
    learners = seconds["learner"].to_numpy()
    text = numbers.map(lambda v: DASH if np.isnan(v) else f"{v:.3g}")
    text.insert(0, "learner", learners)
    fastest = [_best(frame, lower_is_better=True) for _, frame in numbers.groupby(learners)]
    highlight = pd.concat(fastest).sort_index()
    highlight.insert(0, "learner", False)
    text.columns = highlight.columns = ["learner", "selection (s / round)", "training (s / round)"]
    text.index = highlight.index = pd.Index(seconds["strategy"].to_numpy())
    caption = "Means over all rounds, datasets and seeds under each learner; fastest in bold."
    return TableBlock("Runtime", text, highlight, "strategy", caption)
