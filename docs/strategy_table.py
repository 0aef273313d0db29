"""The AUBC table of a sweep's strategies against one of them, as docs/results.md shows it.

    python docs/strategy_table.py results/all-strategies --versus random
    python docs/strategy_table.py results/noisy-oracle --versus dual-prompt

One table per scenario when the results hold several (a noisy-oracle sweep at rates 0, 0.1
and 0.3), each row one strategy: seeds, AUBC and final test accuracy (mean and 95%
Student-t half-width over seeds, :func:`albench.stats.strategy_intervals`), the paired
t-test of its AUBC against ``--versus`` (mean difference, p and Holm-adjusted p over the
table's comparisons), the mean seconds of one acquisition, and, where the runs had a noisy
annotator, the wrong labels received by the last round (mean over seeds). Every number
comes from the results folder's Parquet rows (:func:`albench.load`).
"""

from __future__ import annotations

import argparse

import pandas as pd

from albench import load
from albench.stats import holm, paired_test, run_summary, strategy_intervals


def table(rows: pd.DataFrame, versus: str) -> str:
    """The markdown table of one scenario's rows."""
    runs = run_summary(rows, "accuracy", 1.0, [])
    aubc = strategy_intervals(runs, "aubc", []).set_index("strategy")
    final = strategy_intervals(runs, "final", []).set_index("strategy")
    select = rows.groupby("strategy")["select_seconds"].mean()
    last = rows[rows["round"] == rows["round"].max()]
    wrong = last.groupby("strategy")["n_wrong_labels"].mean()
    noisy = bool(wrong.fillna(0).any())
    by_seed = runs.pivot(index="seed", columns="strategy", values="aubc")
    others = [s for s in by_seed.columns if s != versus] if versus in by_seed.columns else []
    tests = {s: paired_test(by_seed[s], by_seed[versus]) for s in others}
    adjusted = dict(zip(others, holm([tests[s].t_p for s in others]), strict=True))
    head = (
        "| strategy | seeds | AUBC (mean ± 95% CI) | final accuracy (mean ± 95% CI) "
        f"| AUBC - {versus}, paired t p (Holm) | select s/round |"
    )
    lines = [head + (" wrong labels |" if noisy else ""), "|---" * (6 + noisy) + "|"]
    for strategy in aubc.sort_values("mean", ascending=False).index:
        a, f = aubc.loc[strategy], final.loc[strategy]
        test = tests.get(strategy)
        against = (
            f"{test.mean_diff:+.4f}, p = {test.t_p:.3f} ({adjusted[strategy]:.3f})" if test else "—"
        )
        line = (
            f"| {strategy} | {int(a['n'])} | {a['mean']:.4f} ± {a['half_width']:.4f} "
            f"| {f['mean']:.4f} ± {f['half_width']:.4f} | {against} | {select[strategy]:.2f} |"
        )
        lines.append(line + (f" {wrong[strategy]:.1f} |" if noisy else ""))
    return "\n".join(lines)


def tables(folder: str, versus: str) -> str:
    """One table per scenario (the scenario's name above it when there are several)."""
    rows = load(folder)
    rows = rows.assign(scenario=rows.get("scenario", pd.Series("", index=rows.index)).fillna(""))
    if rows["scenario"].nunique() == 1:
        return table(rows, versus)
    parts = []
    for scenario, part in rows.groupby("scenario", sort=True):
        parts.append(f"**{scenario or 'no scenario'}**\n\n{table(part, versus)}")
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--versus", default="random", help="strategy every other is tested against")
    args = parser.parse_args()
    print(tables(args.folder, args.versus))


if __name__ == "__main__":
    main()
