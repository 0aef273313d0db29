"""The report header: where the numbers come from, and how to read the markers.

A result is only as trustworthy as its provenance: the header lists software versions, code
commit, devices, and the protocol (backbones, learners, seeds, budgets, initial-set policy,
rounds) of every run in the report, and the options the statistics used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from albench.report.context import UNITS
from albench.report.tables import MARK_BELOW_BEST, MARK_BETTER, MARK_WORSE

if TYPE_CHECKING:
    from albench.report.context import ReportOptions

FIELDS = {
    "sweeps": "sweep",
    "datasets": "dataset",
    "backbones": "backbone",
    "learners": "learner",
    "strategies": "strategy",
    "initial set": "initial",
    "budget": "budget",
    "rounds": "rounds",
    "pool size": "pool_size",
    "test size": "test_size",
    "albench": "albench_version",
    "git commit": "git_commit",
    "torch": "torch_version",
    "open_clip": "open_clip_version",
    "devices": "device",
}


def _values(column: pd.Series) -> str:
    return ", ".join(str(v) for v in sorted(column.dropna().unique(), key=str))


def seed_list(seeds: pd.Series) -> str:
    """Seeds as compact ranges: ``0–4, 7``."""
    runs: list[list[int]] = []
    for seed in sorted(int(s) for s in seeds.unique()):
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def provenance(data: pd.DataFrame, options: ReportOptions) -> dict[str, str]:
    """Label -> value pairs for the report header."""
    header = {label: _values(data[column]) for label, column in FIELDS.items()}
    header["seeds"] = seed_list(data["seed"])
    header["runs"] = str(data["run_id"].nunique())
    header["units"] = UNITS
    header["finished"] = f"{data['finished_at'].min()} – {data['finished_at'].max()}"
    header["statistics"] = (
        f"metric {options.metric}; baseline {options.baseline}; α = {options.alpha}; "
        f"low-budget window: first {options.low_fraction:.0%} of the budget span"
    )
    return header


def legend(options: ReportOptions) -> dict[str, str]:
    """Marker -> meaning for the tables."""
    test = f"paired t-test over seeds, Holm-corrected, α = {options.alpha}"
    return {
        MARK_BETTER: f"significantly better than the baseline {options.baseline} ({test})",
        MARK_WORSE: f"significantly worse than the baseline {options.baseline} ({test})",
        MARK_BELOW_BEST: f"significantly worse than the strategy with the best mean ({test})",
        "bold": "best value in its column (or a significant p-value, in test tables)",
        "±": "half-width of the 95 % Student-t interval of the mean over seeds",
    }
