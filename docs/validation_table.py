"""The AUBC table of a validation sweep, as docs/results.md shows it.

    python docs/validation_table.py results/validation/fast-cpu

Per strategy: seeds, AUBC and final test accuracy (mean and 95% Student-t half-width over
seeds, :func:`albench.stats.strategy_intervals`), the fewest labels of any class after the
last round (mean over seeds), and the paired t-test of each strategy's AUBC against
``dual-prompt`` (p-values, Holm-adjusted over the comparisons). Every number comes from the
results folder's Parquet rows (:func:`albench.load`).
"""

from __future__ import annotations

import sys

import numpy as np

from albench import load
from albench.stats import holm, paired_test, run_summary, strategy_intervals

REFERENCE = "dual-prompt"


def table(folder: str) -> str:
    rows = load(folder)
    runs = run_summary(rows, "accuracy", 1.0, [])
    aubc = strategy_intervals(runs, "aubc", []).set_index("strategy")
    final = strategy_intervals(runs, "final", []).set_index("strategy")
    last = rows[rows["round"] == rows["round"].max()]
    fewest = last.groupby("strategy")["labelled_per_class"].agg(
        lambda lists: float(np.mean([min(counts) for counts in lists]))
    )
    by_seed = runs.pivot(index="seed", columns="strategy", values="aubc")
    others = [s for s in by_seed.columns if s != REFERENCE and REFERENCE in by_seed.columns]
    tests = {s: paired_test(by_seed[s], by_seed[REFERENCE]) for s in others}
    p_values = holm([tests[s].t_p for s in others]) if others else []
    adjusted = dict(zip(others, p_values, strict=True))
    lines = [
        "| strategy | seeds | AUBC (mean ± 95% CI) | final accuracy (mean ± 95% CI) "
        "| min labels/class after the last round | AUBC - dual-prompt, paired t p (Holm) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for strategy in aubc.sort_values("mean", ascending=False).index:
        a, f = aubc.loc[strategy], final.loc[strategy]
        versus = "—"
        if strategy in tests:
            test = tests[strategy]
            versus = f"{test.mean_diff:+.4f}, p = {test.t_p:.3f} ({adjusted[strategy]:.3f})"
        lines.append(
            f"| {strategy} | {int(a['n'])} | {a['mean']:.4f} ± {a['half_width']:.4f} "
            f"| {f['mean']:.4f} ± {f['half_width']:.4f} | {fewest[strategy]:.1f} | {versus} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1]))
