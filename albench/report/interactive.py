"""Interactive versions of the curve figures for the HTML page (plotly.js, embedded).

The same curves as :func:`albench.report.figures.curve_panels`, as plotly chart specs (plain
dicts, one chart per environment): clicking a legend entry hides a strategy (its band with
it), hovering shows the exact values. :func:`plotly_js` is the plotly.js bundle shipped with
the ``plotly`` package, inlined once per page, so the page needs no network.
"""

from __future__ import annotations

import functools
import json

import pandas as pd

from albench.report.figures import REFERENCE_STYLES, Curves
from albench.report.style import StrategyStyle

DASHES = {"-": "solid", "--": "dash", "-.": "dashdot", ":": "dot"}
SYMBOLS = {"o": "circle", "s": "square", "^": "triangle-up", "D": "diamond",
           "v": "triangle-down", "P": "cross", "X": "x"}  # fmt: skip


@functools.cache
def plotly_js() -> str:
    """The plotly.js bundle (about 4.8 MB) of the installed ``plotly`` package."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _rgb(style: StrategyStyle, alpha: float = 1.0) -> str:
    r, g, b = (round(255 * c) for c in style.color)
    return f"rgba({r},{g},{b},{alpha})"


def _traces(line: pd.DataFrame, name: str, style: StrategyStyle, how: Curves) -> list[dict]:
    x, y, low, high = (v.tolist() for v in how.values(line))
    traces = []
    if how.band:
        traces.append({
            "x": x + x[::-1], "y": high + low[::-1],
            "fill": "toself", "fillcolor": _rgb(style, 0.12), "line": {"width": 0}, "mode": "lines",
            "legendgroup": name, "showlegend": False, "hoverinfo": "skip", "type": "scatter",
        })  # fmt: skip
    traces.append({
        "x": x, "y": y, "name": name, "legendgroup": name,
        "type": "scatter", "mode": "lines+markers",
        "line": {"color": _rgb(style), "dash": DASHES[style.linestyle], "width": 2},
        "marker": {"symbol": SYMBOLS[style.marker], "size": 7},
        "customdata": list(zip(low, high, strict=True)),
        "hovertemplate": "%{fullData.name}<br>%{x:.0f} labels: %{y:.2f}"
        + (" (band %{customdata[0]:.2f} to %{customdata[1]:.2f})" if how.band else "")
        + "<extra></extra>",
    })  # fmt: skip
    return traces


def _hline(y: float, color: str, dash: str = "solid") -> dict:
    """A horizontal line across the plot at ``y``."""
    line = {"color": color, "width": 1, "dash": dash}
    return {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y, "line": line}


def _reference_shapes(lines: pd.DataFrame, scale: float) -> tuple[list[dict], list[dict]]:
    shapes, notes = [], []
    for line in lines.itertuples():
        y = scale * line.value
        shapes.append(_hline(y, "rgb(115,115,115)", DASHES[REFERENCE_STYLES[line.kind]]))
        notes.append({"xref": "paper", "x": 1, "y": y, "xanchor": "right", "yanchor": "bottom",
                      "text": f"{line.kind} {y:.1f}", "showarrow": False,
                      "font": {"size": 10, "color": "rgb(90,90,90)"}})  # fmt: skip
    return shapes, notes


def curve_charts(
    curves: pd.DataFrame, styles: dict[str, StrategyStyle], ylabel: str, how: Curves
) -> list[dict]:
    """One plotly chart spec ({"data", "layout"}) per environment, drawn as ``how`` says
    (:class:`albench.report.figures.Curves`)."""
    charts = []
    for env in dict.fromkeys(curves["env"]):
        data = []
        for name, style in styles.items():
            line = curves[(curves["env"] == env) & (curves["strategy"] == name)]
            if not line.empty:
                data += _traces(line, name, style, how)
        shapes, notes = _reference_shapes(how.lines(env), how.scale)
        if how.zero is not None:
            shapes.append(_hline(how.scale * how.zero, "rgb(50,50,50)"))
        layout = {
            "title": {"text": str(env), "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
            "xaxis": {"title": {"text": "number of labels"}, "zeroline": False},
            "yaxis": {"title": {"text": ylabel}, "zeroline": False},
            "shapes": shapes, "annotations": notes, "hovermode": "closest",
            "legend": {"orientation": "h", "y": -0.2}, "margin": {"t": 56, "r": 10},
            "template": "simple_white", "height": 420,
        }  # fmt: skip
        charts.append({"data": data, "layout": layout})
    return charts


def script_json(spec: dict) -> str:
    """``spec`` as JSON that is safe inside a ``<script>`` element (no ``<``, ``>``, ``&``):
    strategy and dataset names are user input."""
    text = json.dumps(spec, allow_nan=False, default=float)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
