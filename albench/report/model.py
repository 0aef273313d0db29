"""The content of a report, independent of its output format.

One builder (:func:`albench.report.build.build_report`) fills a :class:`Report`; the HTML and
PDF renderers only lay it out, so both outputs always show the same numbers and figures.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from albench.report.style import RC

_NUMBER = r"[\s\d.,+\-−±<—↑↓†%]*"

#: Resolution of the figure images: sharp on high-density screens and in print.
PNG_DPI = 150


@dataclass
class FigureBlock:
    """A matplotlib figure with a caption, and optionally interactive charts of it.

    :meth:`png` rasterises the figure once; the HTML and PDF renderers share that image.
    ``charts`` (plotly specs, :mod:`albench.report.interactive`) replace the image on the
    HTML page; the PDF always shows the image.
    """

    title: str
    figure: Figure
    caption: str = ""
    charts: list[dict] = field(default_factory=list)
    _png: bytes | None = field(default=None, init=False, repr=False)

    def png(self) -> bytes:
        """The figure as PNG at :data:`PNG_DPI` (rendered on first use)."""
        if self._png is None:
            buffer = io.BytesIO()
            with matplotlib.rc_context(RC):
                self.figure.savefig(buffer, format="png", dpi=PNG_DPI)
            self._png = buffer.getvalue()
        return self._png


@dataclass
class TableBlock:
    """A table of display strings; ``highlight`` marks cells to emphasise (same shape).

    The index is shown as the first column, named ``index_name``. ``caption`` says what the
    highlighted cells are (the best value of a column, a significant p-value).
    """

    title: str
    frame: pd.DataFrame
    highlight: pd.DataFrame
    index_name: str = ""
    caption: str = ""

    def numeric(self) -> list[bool]:
        """Per column: whether every cell is a number (right-aligned) rather than text."""
        return [bool(self.frame[c].astype(str).str.fullmatch(_NUMBER).all()) for c in self.frame]


@dataclass
class Section:
    """A titled part of the report: an introduction, then figures and tables in order.

    ``lead`` holds statements to stand out before the blocks (the verdict's sentences).
    """

    title: str
    intro: str = ""
    blocks: list[FigureBlock | TableBlock] = field(default_factory=list)
    lead: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Everything a report shows: provenance, legend, notes and sections (the verdict first)."""

    title: str
    provenance: dict[str, str]
    legend: dict[str, str]
    notes: list[str]
    sections: list[Section]

    @property
    def verdict(self) -> list[str]:
        """The statements that lead the sections (the verdict), in order."""
        return [line for section in self.sections for line in section.lead]

    def figures(self) -> list[FigureBlock]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, FigureBlock)]

    def tables(self) -> list[TableBlock]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, TableBlock)]
