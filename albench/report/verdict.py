"""The verdict at the top of a report: which strategy wins, by how much, how sure we are.

Per environment (dataset, backbone, learner, protocol) the strategy with the highest mean
AUBC over the seeds all strategies share is set against the baseline: its gain in accuracy
points with the paired 95 % t-interval, the Holm-adjusted paired t-test p-value (the same
family as the paired-tests table), the number of seeds, and the smallest difference those
seeds could detect with 80 % power given the observed spread of the paired differences
(:func:`albench.stats.detectable_difference`). When the baseline itself leads, the best
other strategy is the one set against it. Across datasets, the average ranks and the
Friedman / Nemenyi conclusion are put in words (Demšar, JMLR 2006).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from albench import stats
from albench.report.context import Context
from albench.report.model import TableBlock
from albench.report.tables import DASH, p_is, pvalue

#: Power at which the detectable difference is stated.
POWER = 0.8


def findings(ctx: Context) -> pd.DataFrame:
    """One row per environment: leader, challenger and the numbers of its comparison."""
    baseline, alpha = ctx.options.baseline, ctx.options.alpha
    tests = ctx.comparisons("aubc")
    tests = tests[tests["role"] == "baseline"].set_index(["env", "strategy"])
    rows = []
    for (group, env), frame in ctx.summary.groupby(["group", "env"], sort=True):
        table = frame.pivot(index="seed", columns="strategy", values="aubc").dropna()
        if baseline not in table.columns or table.shape[1] < 2:
            continue
        means = table.mean().sort_values(ascending=False, kind="stable")
        leader = str(means.index[0])
        challenger = leader if leader != baseline else str(means.index[1])
        gain = stats.paired_interval((table[challenger] - table[baseline]).to_numpy())
        holm = tests["t_p_holm"].get((env, challenger), np.nan)
        family = tests.loc[env] if env in tests.index.get_level_values(0) else tests.iloc[0:0]
        significant = family[family["t_p_holm"] < alpha]
        rows.append(
            {
                "group": group, "env": env, "leader": leader, "challenger": challenger,
                "aubc": means[challenger], "baseline_aubc": means[baseline], "n": gain.n,
                "gain": gain.mean, "low": gain.low, "high": gain.high, "p_holm": holm,
                "detectable": stats.detectable_difference(gain.sd, gain.n, alpha, POWER),
                "better": int((significant["mean_diff"] > 0).sum()),
                "worse": int((significant["mean_diff"] < 0).sum()), "others": len(family),
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _pp(value: float) -> str:
    return DASH if np.isnan(value) else f"{100 * value:+.1f}"


def sentence(row: pd.Series, baseline: str, alpha: float) -> str:
    """The verdict on one environment in plain words."""
    head = f"{row.env}: "
    if row.leader == baseline:
        head += (
            f"the baseline {baseline} has the highest mean AUBC ({100 * row.baseline_aubc:.1f} "
            f"%); the best other strategy, {row.challenger}, is {_pp(row.gain)} pp against it"
        )
    else:
        head += (
            f"{row.challenger} has the highest mean AUBC ({100 * row.aubc:.1f} %), "
            f"{_pp(row.gain)} pp over {baseline}"
        )
    if row.n < 2:
        return f"{head} on a single seed: no interval and no test."
    interval = f" (95 % CI {_pp(row.low)} to {_pp(row.high)} pp; Holm {p_is(row.p_holm)}; "
    interval += f"{row.n} seeds)."
    if row.p_holm < alpha:
        verdict = f" The difference is significant at α = {alpha}."
    else:
        verdict = (
            f" No significant difference from {baseline}: with {row.n} seeds and this spread, "
            f"only differences of at least {100 * row.detectable:.1f} pp would be detected "
            f"with {POWER:.0%} power."
        )
    tally = (
        f" Of the {row.others} strategies compared with {baseline}: {row.better} "
        f"significantly better, {row.worse} significantly worse."
    )
    return head + interval + verdict + tally


def table(rows: pd.DataFrame, baseline: str, alpha: float) -> TableBlock:
    """The verdict's numbers, one row per environment; significant p-values in bold."""
    text = pd.DataFrame(
        {
            "best strategy": rows["challenger"],
            "AUBC (%)": rows["aubc"].map(lambda v: f"{100 * v:.2f}"),
            f"gain over {baseline} (pp)": rows["gain"].map(_pp),
            "95 % CI (pp)": [f"{_pp(lo)} to {_pp(hi)}" if not np.isnan(lo) else DASH
                             for lo, hi in zip(rows["low"], rows["high"], strict=True)],
            "Holm p": rows["p_holm"].map(pvalue),
            "seeds": rows["n"].astype(str),
            f"detectable at {POWER:.0%} power (pp)": rows["detectable"].map(
                lambda v: DASH if np.isnan(v) else f"{100 * v:.1f}"
            ),
        }
    )  # fmt: skip
    text.index = pd.Index(rows["env"])
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    highlight["Holm p"] = (rows["p_holm"] < alpha).to_numpy()
    caption = (
        f"Per environment, the strategy with the highest mean AUBC (or, when {baseline} leads, "
        f"the best other one) against {baseline}, paired by seed: mean gain, paired 95 % "
        "t-interval, paired t-test p Holm-adjusted over all strategies compared with the "
        "baseline, and the smallest gain these seeds detect with 80 % power at the observed "
        f"spread (two-sided, α = {alpha}). Bold: p < {alpha}."
    )
    return TableBlock("Best strategy against the baseline", text, highlight, "environment", caption)


def across_datasets(ctx: Context) -> list[str]:
    """Average ranks and the Friedman / Nemenyi conclusion, per group of two or more datasets."""
    alpha, lines = ctx.options.alpha, []
    for group, scores in ctx.rank_scores.items():
        complete = scores.dropna(axis=1)
        n, k = complete.shape
        if n < 2 or k < 2:
            continue
        ranks = stats.average_ranks(complete).sort_values(kind="stable")
        best = str(ranks.index[0])
        shown = ", ".join(f"{name} {rank:.2f}" for name, rank in ranks.items())
        line = f"Across {n} datasets ({group}), average ranks (1 is best): {shown}."
        if k < 3:
            lines.append(line + " Too few strategies for a Friedman test.")
            continue
        _, p = stats.friedman(complete)
        if not p < alpha:  # NaN when every dataset ties every strategy
            line += (
                f" The Friedman test does not reject equal ranks ({p_is(p)}): no strategy "
                "ranks significantly better than another across datasets."
            )
        else:
            cd = stats.critical_difference(k, n, alpha)
            beaten = [str(name) for name, rank in ranks.items() if rank - ranks[best] >= cd]
            line += f" Friedman {p_is(p)}; Nemenyi critical difference {cd:.2f}: "
            line += (
                f"{best} ranks significantly better than {', '.join(beaten)}."
                if beaten
                else "no pair of strategies differs by the critical difference."
            )
        lines.append(line)
    return lines


def verdict(ctx: Context) -> tuple[list[str], list[TableBlock]]:
    """The verdict's sentences (per environment, then across datasets) and its table."""
    rows = findings(ctx)
    baseline, alpha = ctx.options.baseline, ctx.options.alpha
    lines = [sentence(row, baseline, alpha) for _, row in rows.iterrows()]
    if not rows.empty and not (rows["p_holm"] < alpha).any():
        lines.insert(0, f"No strategy differs significantly from {baseline} in AUBC anywhere.")
    lines += across_datasets(ctx)
    return lines, [table(rows, baseline, alpha)] if not rows.empty else []
