"""Render a :class:`~albench.report.model.Report` as one self-contained HTML file.

Figures are inlined as base64 PNG and the stylesheet is embedded, so the file opens offline
and can be mailed or archived alone. The Jinja2 environment autoescapes everything: dataset,
strategy and plugin names are user input and must never become markup.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
import matplotlib
from matplotlib.figure import Figure

from albench import __version__
from albench.report.model import Report
from albench.report.style import RC
from albench.results import atomic_path

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("albench.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def png_data_uri(figure: Figure) -> str:
    """``data:image/png;base64,...`` of the figure."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC):
        figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(report: Report) -> str:
    """The report as an HTML document (a string)."""
    images = {id(block.figure): png_data_uri(block.figure) for block in report.figures()}
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        report=report, image=lambda block: images[id(block.figure)], version=__version__
    )


def write_html(report: Report, path: Path | str) -> Path:
    """Write the report's HTML atomically to ``path``; returns the path."""
    path = Path(path)
    text = render_html(report)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path
