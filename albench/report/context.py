"""What every section builder of a report shares: the options and the prepared results.

:class:`ReportOptions` is what the user chose (metric, baseline, test level, bands);
:class:`Context` holds the validated results with their environment labels, the strategy
styles, the notes collected while building, and the per-run summary that several sections
read (computed once).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import pandas as pd

from albench import stats
from albench.errors import InvalidSpecError, UnknownNameError
from albench.report.style import StrategyStyle

METRICS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy"}
#: Bands around the mean learning curves: the standard error, the 95 % t-interval, or none.
BANDS = {
    "se": "± one standard error over seeds",
    "ci95": "95 % t-intervals over seeds",
    "none": "no band",
}
#: Environment label and group label: the units runs are paired in and compared across.
KEYS = ["group", "env"]
#: One unit for accuracies and AUBC everywhere in a report, said once in its header.
UNITS = (
    "accuracy and AUBC in % (AUBC is the mean accuracy over the budget span); differences "
    "in percentage points (pp)"
)


@dataclass(frozen=True)
class ReportOptions:
    """What to compare and how: metric, baseline strategy, test level, low-budget window,
    the band drawn around mean learning curves."""

    metric: str = "accuracy"
    baseline: str = "random"
    alpha: float = 0.05
    low_fraction: float = 0.33
    band: str = "se"
    title: str = "Active-learning benchmark report"

    def validate(self) -> None:
        if self.metric not in METRICS:
            raise UnknownNameError("metric", self.metric, METRICS)
        if self.band not in BANDS:
            raise UnknownNameError("band", self.band, BANDS)
        if not 0 < self.alpha < 1:
            raise InvalidSpecError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 < self.low_fraction <= 1:
            raise InvalidSpecError(
                f"low-budget fraction must be in (0, 1], got {self.low_fraction}"
            )


@dataclass
class Context:
    """Prepared results (with ``env`` and ``group`` columns), options, styles, notes and the
    reference accuracies matched to environments (:mod:`albench.report.efficiency`)."""

    data: pd.DataFrame
    options: ReportOptions
    styles: dict[str, StrategyStyle]
    notes: list[str]
    #: reference accuracies per environment: env, kind ("full data", "zero-shot"), seed, value
    references: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["env", "kind", "seed", "value"])
    )

    @property
    def metric_label(self) -> str:
        return METRICS[self.options.metric]

    @functools.cached_property
    def summary(self) -> pd.DataFrame:
        """Per-run AUBC, low-budget AUBC and final metric (:func:`albench.stats.run_summary`)."""
        return stats.run_summary(self.data, self.options.metric, self.options.low_fraction, KEYS)

    @functools.cached_property
    def rank_scores(self) -> dict[str, pd.DataFrame]:
        """Per group: mean AUBC, datasets (env) x strategies, NaN where a strategy did not run;
        the input of rank tests across datasets."""
        means = stats.strategy_intervals(self.summary, "aubc", KEYS)
        return {
            group: frame.pivot(index="env", columns="strategy", values="mean")
            for group, frame in means.groupby("group", sort=True)
        }

    def comparisons(self, value: str) -> pd.DataFrame:
        """Paired tests of ``value`` against the baseline and the best strategy per env."""
        return stats.paired_comparisons(
            self.summary, value, KEYS, self.options.baseline, self.options.alpha
        )
