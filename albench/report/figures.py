"""Report figures, drawn from precomputed statistics (no statistics are computed here).

Every function returns a fresh :class:`matplotlib.figure.Figure` (no pyplot state) and takes
the strategy styles of :mod:`albench.report.style`, so a strategy looks the same everywhere.
Call them inside ``matplotlib.rc_context(style.RC)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from albench.report.style import StrategyStyle
from albench.stats import Penalty

PANEL = (3.6, 2.7)
LOG_SPREAD = 30.0


def _columns(n: int) -> int:
    """Three panels a row, four from seven panels on (wide pages suit many datasets)."""
    return min(n, 3 if n <= 6 else 4)


def _panels(n: int, panel: tuple[float, float] = PANEL) -> tuple[Figure, list[Axes]]:
    columns = _columns(n)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(panel[0] * columns, panel[1] * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for unused in axes[n:]:
        unused.set_visible(False)
    return figure, axes[:n]


def _legend(figure: Figure, axes: Sequence[Axes]) -> None:
    """One legend for the whole figure, below the panels, in sorted strategy order."""
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if labels:
        figure.legend(
            [handles[name] for name in labels],
            labels,
            loc="outside lower center",
            ncols=min(len(labels), 5),
            frameon=False,
        )


def learning_curves(
    curves: pd.DataFrame, styles: dict[str, StrategyStyle], metric_label: str
) -> Figure:
    """Mean metric against the number of labels, one panel per environment, 95 % t bands.

    ``curves`` has columns env, strategy, n_labelled, mean, half_width (one row per round).
    """
    envs = list(dict.fromkeys(curves["env"]))
    figure, axes = _panels(len(envs))
    for ax, env in zip(axes, envs, strict=True):
        for strategy, style in styles.items():
            line = curves[(curves["env"] == env) & (curves["strategy"] == strategy)]
            if line.empty:
                continue
            x, y = line["n_labelled"].to_numpy(), line["mean"].to_numpy()
            band = line["half_width"].fillna(0).to_numpy()
            ax.plot(x, y, label=strategy, markersize=4, linewidth=1.4, **style.line())
            ax.fill_between(x, y - band, y + band, color=style.color, alpha=0.15, linewidth=0)
        ax.set_title(env)
        ax.set_xlabel("number of labels")
        ax.set_ylabel(metric_label)
    _legend(figure, axes)
    return figure


def aubc_points(intervals: pd.DataFrame, styles: dict[str, StrategyStyle]) -> Figure:
    """Mean AUBC with 95 % t-intervals per strategy, one panel per environment.

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
                point.mean, order.index(point.strategy) + offsets[point.window],
                xerr=np.nan_to_num(point.half_width), fmt=style.marker, color=style.color,
                markerfacecolor="white" if hollow else style.color, capsize=2.5, markersize=5,
            )  # fmt: skip
        ax.set_yticks(range(k), order)
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_title(env)
        ax.set_xlabel("AUBC (mean accuracy)")
    key = [
        Line2D([], [], color="0.3", marker="o", linestyle="none", label=window,
               markerfacecolor="white" if i else "0.3")
        for i, window in enumerate(windows)
    ]  # fmt: skip
    figure.legend(handles=key, loc="outside lower center", ncols=len(key), frameon=False)
    return figure


def penalty_heatmap(penalty: Penalty) -> Figure:
    """Pairwise penalty matrix (Ash et al., ICLR 2020) with its column means underneath."""
    k = len(penalty.matrix)
    size = 0.55 * k + 2.2
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [k, 1.2]})
    vmax = max(float(penalty.matrix.to_numpy().max()), 1e-9)
    common = {"annot": True, "fmt": ".2f", "cmap": "Blues", "vmin": 0, "vmax": vmax}
    sns.heatmap(penalty.matrix, ax=top, cbar=False, linewidths=0.5, **common)
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


def class_coverage(coverage: pd.DataFrame, styles: dict[str, StrategyStyle]) -> Figure:
    """Class imbalance of the labelled set (max / min labels per class) against labels.

    ``coverage`` has columns env, strategy, n_labelled, ratio (mean over seeds; NaN while a
    class had no label in some seed).
    """
    envs = list(dict.fromkeys(coverage["env"]))
    figure, axes = _panels(len(envs))
    for ax, env in zip(axes, envs, strict=True):
        for strategy, style in styles.items():
            line = coverage[(coverage["env"] == env) & (coverage["strategy"] == strategy)]
            if line.empty:
                continue
            ax.plot(
                line["n_labelled"], line["ratio"], label=strategy, markersize=4, linewidth=1.4,
                **style.line(),
            )  # fmt: skip
        ax.axhline(1.0, color="0.5", linewidth=0.8)
        ax.set_title(env)
        ax.set_xlabel("number of labels")
        ax.set_ylabel("imbalance ratio (max / min per class)")
    _legend(figure, axes)
    return figure


def runtime(seconds: pd.DataFrame, styles: dict[str, StrategyStyle]) -> Figure:
    """Mean seconds per round spent selecting and training, per strategy.

    ``seconds`` is indexed by strategy with columns select_seconds and train_seconds. The
    axis is logarithmic when the positive values span more than a factor of 30.
    """
    order = [s for s in styles if s in seconds.index]
    figure = Figure(figsize=(max(4.5, 0.9 * len(order) + 2), 3.4), layout="constrained")
    ax = figure.subplots()
    width = 0.38
    for i, strategy in enumerate(order):
        color = styles[strategy].color
        select, train = seconds.loc[strategy, ["select_seconds", "train_seconds"]]
        bar = {"color": color, "edgecolor": "black", "linewidth": 0.5}
        ax.bar(i - width / 2, select, width, hatch="//", **bar)
        ax.bar(i + width / 2, train, width, **bar)
    values = seconds.loc[order, ["select_seconds", "train_seconds"]].to_numpy().ravel()
    positive = values[values > 0]
    if positive.size and positive.max() / positive.min() > LOG_SPREAD:
        ax.set_yscale("log")
        # plain tick labels: the default log formatter writes mathtext, which is off (style.RC)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_ylabel("seconds per round (mean)")
    key = {"facecolor": "0.85", "edgecolor": "black", "linewidth": 0.5}
    figure.legend(
        [Patch(hatch="//", **key), Patch(**key)], ["selection (hatched)", "training"],
        loc="outside upper center", ncols=2, frameon=False,
    )  # fmt: skip
    return figure
