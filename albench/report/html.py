"""Render a :class:`~albench.report.model.Report` as one self-contained HTML file.

Figures are inlined as base64 PNG, curve figures as interactive plotly charts with the
plotly.js bundle embedded, and the stylesheet and scripts (sortable tables, CSV downloads:
``templates/behaviour.js``) are inline, so the file opens offline and can be mailed or
archived alone. The Jinja2 environment autoescapes everything: dataset,
strategy and plugin names are user input and must never become markup.
"""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2

from albench import __version__
from albench.files import atomic_path
from albench.report.interactive import plotly_js, script_json
from albench.report.model import PNG_DPI, FigureBlock, Report

#: Figures are shown at this many CSS pixels per inch (a little larger than true size).
DISPLAY_DPI = 110
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("albench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def image(block: FigureBlock) -> dict[str, str]:
    """``src`` (a base64 PNG data URI) and display ``width`` in CSS pixels of a figure."""
    png = block.png()
    width = int.from_bytes(png[16:20], "big")  # the IHDR chunk of every PNG
    return {
        "src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "width": str(round(width * DISPLAY_DPI / PNG_DPI)),
    }


def render_html(report: Report) -> str:
    """The report as an HTML document (a string)."""
    template = _ENVIRONMENT.get_template("report.html.j2")
    behaviour = _ENVIRONMENT.loader.get_source(_ENVIRONMENT, "behaviour.js")[0]
    return template.render(
        report=report, image=image, version=__version__, script_json=script_json,
        plotly_js=plotly_js, behaviour=behaviour,
    )  # fmt: skip


def write_html(report: Report, path: Path | str) -> Path:
    """Write the report's HTML atomically to ``path``; returns the path."""
    path = Path(path)
    text = render_html(report)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path
