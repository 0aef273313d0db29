"""Report figures, drawn from precomputed statistics (no statistics are computed here).

Every function returns a fresh :class:`matplotlib.figure.Figure` (no pyplot state) and takes
the strategy styles of :mod:`albench.report.style`, so a strategy looks the same everywhere.
Call them inside ``matplotlib.rc_context(style.RC)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from albench.report.style import StrategyStyle
from albench.stats import Penalty

PANEL = (3.6, 2.7)
#: A figure of one panel is drawn larger: it has the page width to itself.
SINGLE_PANEL = (5.6, 3.6)
LOG_SPREAD = 30.0


def _columns(n: int) -> int:
    """Three panels a row, four from seven panels on (wide pages suit many datasets)."""
    return min(n, 3 if n <= 6 else 4)


def _panels(
    n: int, panel: tuple[float, float] = PANEL, columns: int | None = None
) -> tuple[Figure, list[Axes]]:
    columns = min(n, columns or _columns(n))
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(panel[0] * columns, panel[1] * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for unused in axes[n:]:
        unused.set_visible(False)
    return figure, axes[:n]


def _legend(figure: Figure, axes: Sequence[Axes]) -> None:
    """One legend for the whole figure, below the panels, in sorted strategy order.

    The legend takes as many columns as fit the figure's width (at most 5), so no entry is
    ever cut off (:func:`fit_legend`).
    """
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if labels:
        columns = min(len(labels), 5)
        legend = figure.legend(
            [handles[name] for name in labels], labels, loc="outside lower center",
            ncols=columns, frameon=False,
        )  # fmt: skip
        fit_legend(figure, legend, columns)


def fit_legend(figure: Figure, legend: Legend, columns: int) -> None:
    """Fewer legend columns until the legend is no wider than the figure (one column at
    worst, and then the figure widens to the legend)."""
    while columns > 1 and legend.get_window_extent().width > 0.98 * figure.bbox.width:
        columns -= 1
        legend.set_ncols(columns)
    needed = legend.get_window_extent().width / figure.dpi
    if needed > 0.98 * figure.get_figwidth():
        figure.set_figwidth(needed / 0.98)


@dataclass(frozen=True)
class Curves:
    """How mean curves are drawn, as a figure (:func:`curve_panels`) or as interactive charts
    (:func:`albench.report.interactive.curve_charts`).

    ``band`` names the half-width column of the band (none: no band). Curves and bands are
    clipped to ``clip`` (accuracy to [0, 1]), so the y range, fitted to what is drawn, never
    runs past the possible values; values are multiplied by ``scale`` (100 for percent).
    ``zero`` draws a line at that value; ``references`` (columns env, kind, value) labelled
    horizontal lines per environment.
    """

    band: str | None = None
    clip: tuple[float, float] | None = None
    scale: float = 1.0
    zero: float | None = None
    references: pd.DataFrame | None = None

    def values(self, curve: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """x, then mean, lower and upper band edge of one curve, clipped and scaled."""
        x, y = curve["n_labelled"].to_numpy(), curve["mean"].to_numpy(dtype=float)
        half = curve[self.band].fillna(0).to_numpy(dtype=float) if self.band else 0 * y
        low, high = y - half, y + half
        if self.clip:
            y, low, high = (np.clip(v, *self.clip) for v in (y, low, high))
        return x, self.scale * y, self.scale * low, self.scale * high

    def lines(self, env: str) -> pd.DataFrame:
        """The reference lines of one environment (possibly none)."""
        if self.references is None:
            return pd.DataFrame(columns=["env", "kind", "value"])
        return self.references[self.references["env"] == env]


def curve_panels(
    curves: pd.DataFrame, styles: dict[str, StrategyStyle], ylabel: str, how: Curves
) -> Figure:
    """Mean curves against the number of labels, one panel per environment, with bands.

    ``curves`` has columns env, strategy, n_labelled, mean and the band's column, if any.
    """
    envs = list(dict.fromkeys(curves["env"]))
    figure, axes = _panels(len(envs), SINGLE_PANEL if len(envs) == 1 else PANEL)
    for ax, env in zip(axes, envs, strict=True):
        for strategy, style in styles.items():
            line = curves[(curves["env"] == env) & (curves["strategy"] == strategy)]
            if line.empty:
                continue
            x, y, low, high = how.values(line)
            ax.plot(x, y, label=strategy, markersize=4, linewidth=1.4, **style.line())
            if how.band:
                ax.fill_between(x, low, high, color=style.color, alpha=0.12, linewidth=0)
        if how.zero is not None:
            ax.axhline(how.scale * how.zero, color="0.2", linewidth=0.9, zorder=1)
        _reference_lines(ax, how.lines(env), how.scale)
        ax.set_title(env)
        ax.set_xlabel("number of labels")
        ax.set_ylabel(ylabel)
    _legend(figure, axes)
    return figure


#: Line style of each kind of reference accuracy (albench.reference).
REFERENCE_STYLES = {"full data": "--", "zero-shot": ":"}


def _reference_lines(ax: Axes, lines: pd.DataFrame, scale: float) -> None:
    """Grey horizontal lines, each labelled at its right end inside the panel."""
    for line in lines.itertuples():
        y = scale * line.value
        ax.axhline(y, color="0.45", linestyle=REFERENCE_STYLES[line.kind], linewidth=1.0,
                   zorder=1)  # fmt: skip
        ax.annotate(f"{line.kind} {y:.1f}", (1, y), xycoords=("axes fraction", "data"),
                    xytext=(-2, 2), textcoords="offset points", ha="right", va="bottom",
                    fontsize=7, color="0.35")  # fmt: skip


def aubc_points(intervals: pd.DataFrame, styles: dict[str, StrategyStyle]) -> Figure:
    """Mean AUBC (%) with 95 % t-intervals per strategy, one panel per environment.

    ``intervals`` has columns env, window, strategy, mean, half_width, with two windows: the
    first drawn with filled markers, the second (the low-budget window) with hollow ones just
    below.
    """
    envs = list(dict.fromkeys(intervals["env"]))
    windows = list(dict.fromkeys(intervals["window"]))
    order = list(styles)
    k = len(order)
    figure, axes = _panels(len(envs), (PANEL[0] + 0.6, 0.42 * k + 1.1))
    offsets = dict(zip(windows, (-0.15, 0.15), strict=False))
    for ax, env in zip(axes, envs, strict=True):
        for point in intervals[intervals["env"] == env].itertuples():
            style = styles[point.strategy]
            hollow = point.window != windows[0]
            ax.errorbar(
                100 * point.mean, order.index(point.strategy) + offsets[point.window],
                xerr=100 * np.nan_to_num(point.half_width), fmt=style.marker, color=style.color,
                markerfacecolor="white" if hollow else style.color, capsize=2.5, markersize=5,
            )  # fmt: skip
        ax.set_yticks(range(k), order)
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_title(env)
        ax.set_xlabel("AUBC (%, mean accuracy over the budget)")
    key = [
        Line2D([], [], color="0.3", marker="o", linestyle="none", label=window,
               markerfacecolor="white" if i else "0.3")
        for i, window in enumerate(windows)
    ]  # fmt: skip
    figure.legend(handles=key, loc="outside lower center", ncols=len(key), frameon=False)
    return figure


def penalty_heatmap(penalty: Penalty) -> Figure:
    """Pairwise penalty matrix (Ash et al., ICLR 2020) with its column means underneath.

    The diagonal (a strategy against itself) is left empty.
    """
    k = len(penalty.matrix)
    size = 0.55 * k + 2.2
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [k, 1.2]})
    vmax = max(float(penalty.matrix.to_numpy().max()), 1e-9)
    common = {"annot": True, "fmt": ".2f", "cmap": "Blues", "vmin": 0, "vmax": vmax}
    diagonal = np.eye(k, dtype=bool)
    sns.heatmap(penalty.matrix, ax=top, cbar=False, linewidths=0.5, mask=diagonal, **common)
    top.set_ylabel("winner (row)")
    top.set_xlabel("")
    top.tick_params(labelbottom=False)
    means = penalty.column_means.to_frame().T.rename(index={0: "column mean"})
    sns.heatmap(means, ax=bottom, cbar=False, linewidths=0.5, **common)
    bottom.set_xlabel("loser (column)")
    bottom.set_yticklabels(["column mean"], rotation=0)
    for ax in (top, bottom):
        ax.grid(False)
        ax.tick_params(length=0)
        ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    return figure


def cd_diagram(ranks: pd.Series, cd: float, groups: Sequence[Sequence[str]]) -> Figure:
    """Critical-difference diagram of Demšar (JMLR 2006, fig. 1).

    An axis of average ranks (1 is best); each strategy hangs from its rank to a label on the
    left (better half) or right; thick bars join strategies whose ranks differ by less than
    the critical difference, drawn as the bar above the axis.
    """
    ordered = ranks.sort_values(kind="stable")
    k = len(ordered)
    half = math.ceil(k / 2)
    rows = max(half, k - half)
    group_y = [-0.25 - 0.14 * g for g in range(len(groups))]
    label_top = (group_y[-1] if group_y else -0.25) - 0.3
    label_y = [label_top - 0.32 * i for i in range(rows)]
    figure = Figure(figsize=(7.5, 1.5 + 0.3 * rows + 0.12 * len(groups)), layout="constrained")
    ax = figure.subplots()
    low, high = 1, max(k, 2)
    ax.hlines(0, low, high, color="black", linewidth=1)
    for tick in range(low, high + 1):
        ax.vlines(tick, 0, 0.08, color="black", linewidth=1)
        ax.text(tick, 0.14, str(tick), ha="center", va="bottom", fontsize=8)
    ax.hlines(0.55, low, low + cd, color="black", linewidth=1.5)
    ax.vlines([low, low + cd], 0.5, 0.6, color="black", linewidth=1.5)
    ax.text(low + cd / 2, 0.63, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    margin = 0.25 * (high - low) + 0.4
    for i, (name, rank) in enumerate(ordered.items()):
        left = i < half
        y = label_y[i if left else k - 1 - i]
        edge = low - 0.15 * (high - low) - 0.1 if left else high + 0.15 * (high - low) + 0.1
        ax.plot([rank, rank, edge], [0, y, y], color="0.35", linewidth=0.8)
        text = f"{name} ({rank:.2f})" if left else f"({rank:.2f}) {name}"
        ax.text(edge, y, text, ha="right" if left else "left", va="center", fontsize=8)
    for y, group in zip(group_y, groups, strict=True):
        span = ordered[list(group)]
        ax.hlines(y, span.min() - 0.03, span.max() + 0.03, color="black", linewidth=3)
    ax.set_xlim(low - margin - 0.3 * (high - low), high + margin + 0.3 * (high - low))
    ax.set_ylim(label_y[-1] - 0.3, 0.9)
    ax.axis("off")
    return figure


def runtime(seconds: pd.DataFrame, styles: dict[str, StrategyStyle]) -> Figure:
    """Mean seconds per round spent selecting and training, per strategy, one panel per
    learner (a learner's training time is no property of the strategies run under it).

    ``seconds`` has columns learner, strategy, select_seconds and train_seconds. An axis is
    logarithmic when its positive values span more than a factor of 30.
    """
    learners = list(dict.fromkeys(seconds["learner"]))
    widest = seconds.groupby("learner")["strategy"].nunique().max()
    width = max(3.6, 0.7 * widest + 1.2)
    figure, axes = _panels(len(learners), (width, 3.2), columns=1 if width > 6 else None)
    width = 0.38
    for ax, learner in zip(axes, learners, strict=True):
        rows = seconds[seconds["learner"] == learner].set_index("strategy")
        order = [s for s in styles if s in rows.index]
        for i, strategy in enumerate(order):
            select, train = rows.loc[strategy, ["select_seconds", "train_seconds"]]
            bar = {"color": styles[strategy].color, "edgecolor": "black", "linewidth": 0.5}
            ax.bar(i - width / 2, select, width, hatch="//", **bar)
            ax.bar(i + width / 2, train, width, **bar)
        values = rows.loc[order, ["select_seconds", "train_seconds"]].to_numpy().ravel()
        positive = values[values > 0]
        if positive.size and positive.max() / positive.min() > LOG_SPREAD:
            ax.set_yscale("log")
            # plain tick labels: the default log formatter writes mathtext, off in style.RC
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
        ax.set_title(f"learner: {learner}")
        ax.set_ylabel("seconds per round (mean)")
    key = {"facecolor": "0.85", "edgecolor": "black", "linewidth": 0.5}
    figure.legend(
        [Patch(hatch="//", **key), Patch(**key)], ["selection (hatched)", "training"],
        loc="outside upper center", ncols=2, frameon=False,
    )  # fmt: skip
    return figure


def class_counts(counts: pd.DataFrame) -> Figure:
    """Mean labels per class at the last round, strategies x classes, one panel per env.

    ``counts`` has columns env, strategy, class and labels (mean over seeds). A strategy
    that leaves classes empty or piles labels onto a few shows as a row of uneven cells.
    """
    envs = list(dict.fromkeys(counts["env"]))
    k = counts["strategy"].nunique()
    n_classes = counts["class"].nunique()
    figure, axes = _panels(len(envs), (max(3.6, 0.32 * n_classes + 1.8), 0.3 * k + 1.4))
    vmax = float(counts["labels"].max())
    for ax, env in zip(axes, envs, strict=True):
        table = counts[counts["env"] == env].pivot(index="strategy", columns="class",
                                                   values="labels")  # fmt: skip
        sns.heatmap(table, ax=ax, cmap="Blues", vmin=0, vmax=vmax, cbar=False, linewidths=0.4,
                    annot=n_classes <= 12, fmt=".1f", annot_kws={"fontsize": 6})  # fmt: skip
        ax.grid(False)
        ax.tick_params(length=0)
        ax.set_title(env)
        ax.set_xlabel("class")
        ax.set_ylabel("")
    return figure
