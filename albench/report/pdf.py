"""Render a :class:`~albench.report.model.Report` as a multi-page PDF (matplotlib PdfPages).

The same content as the HTML page, laid out on A4 landscape pages: text pages for the header,
legend and notes; one page per figure (the figure drawn at high resolution under its title and
caption); tables split over as many pages as their rows need. :func:`paginate` decides the
pages, so the page count is known without rendering.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from albench.report.model import FigureBlock, Report, TableBlock
from albench.report.style import RC
from albench.results import atomic_path

PAGE = (11.69, 8.27)
LINES_PER_PAGE = 38
ROWS_PER_PAGE = 22
WRAP = 130
FIGURE_DPI = 150
HIGHLIGHT = "#ddf4ff"
HEADER = "#eef1f4"


@dataclass(frozen=True)
class TextPage:
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class FigurePage:
    section: str
    block: FigureBlock


@dataclass(frozen=True)
class TablePage:
    section: str
    block: TableBlock
    start: int
    stop: int
    part: int
    parts: int


Page = TextPage | FigurePage | TablePage


def _front_lines(report: Report) -> list[str]:
    lines = [f"{label}: {value or '—'}" for label, value in report.provenance.items()]
    lines += ["", "LEGEND"] + [f"{mark}  {meaning}" for mark, meaning in report.legend.items()]
    if report.notes:
        lines += ["", "NOTES"] + [f"• {note}" for note in report.notes]
    return [part for line in lines for part in (textwrap.wrap(line, WRAP) or [""])]


def paginate(report: Report) -> list[Page]:
    """The pages of the PDF, in order."""
    lines = _front_lines(report)
    pages: list[Page] = [
        TextPage(report.title, tuple(lines[i : i + LINES_PER_PAGE]))
        for i in range(0, len(lines), LINES_PER_PAGE)
    ]
    for section in report.sections:
        for block in section.blocks:
            if isinstance(block, FigureBlock):
                pages.append(FigurePage(section.title, block))
                continue
            rows = len(block.frame)
            parts = max(1, -(-rows // ROWS_PER_PAGE))
            pages += [
                TablePage(section.title, block, i * ROWS_PER_PAGE,
                          min(rows, (i + 1) * ROWS_PER_PAGE), i + 1, parts)
                for i in range(parts)
            ]  # fmt: skip
    return pages


def _page(heading: str, title: str, caption: str = "") -> Figure:
    figure = Figure(figsize=PAGE)
    FigureCanvasAgg(figure)
    figure.text(0.04, 0.955, heading, fontsize=9, color="0.4")
    figure.text(0.04, 0.915, title, fontsize=14, fontweight="bold")
    if caption:
        figure.text(0.04, 0.03, "\n".join(textwrap.wrap(caption, 150)), fontsize=8, color="0.3")
    return figure


def _draw_text(page: TextPage) -> Figure:
    figure = _page("albench report", page.title)
    for i, line in enumerate(page.lines):
        bold = line in ("LEGEND", "NOTES")
        figure.text(0.04, 0.86 - i * 0.021, line, fontsize=8.5,
                    fontweight="bold" if bold else "normal")  # fmt: skip
    return figure


def _draw_figure(page: FigurePage) -> Figure:
    buffer = io.BytesIO()
    page.block.figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    buffer.seek(0)
    image = matplotlib.image.imread(buffer)
    figure = _page(page.section, page.block.title, page.block.caption)
    ax = figure.add_axes((0.04, 0.1, 0.92, 0.78))
    ax.imshow(image, interpolation="antialiased")
    ax.set_axis_off()
    return figure


def _draw_table(page: TablePage) -> Figure:
    block = page.block
    title = block.title + (f" ({page.part}/{page.parts})" if page.parts > 1 else "")
    figure = _page(page.section, title, block.caption)
    ax = figure.add_axes((0.04, 0.1, 0.92, 0.78))
    ax.set_axis_off()
    frame = block.frame.iloc[page.start : page.stop]
    cells = [[str(i), *map(str, row)] for i, row in zip(frame.index, frame.to_numpy(), strict=True)]
    labels = [block.index_name, *map(str, frame.columns)]
    for size in (8.5, 7.5, 6.5, 5.5, 4.5):
        table = ax.table(cells, colLabels=labels, loc="upper left", cellLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(size)
        table.auto_set_column_width(range(len(labels)))
        renderer = figure.canvas.get_renderer()
        if table.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width:
            break
        table.remove()
    highlight = block.highlight.iloc[page.start : page.stop].to_numpy()
    for (row, column), cell in table.get_celld().items():
        cell.set_edgecolor("0.8")
        cell.set_height(0.04)
        if column == 0:
            cell.get_text().set_horizontalalignment("left")
        if row == 0:
            cell.set_facecolor(HEADER)
            cell.get_text().set_fontweight("bold")
        elif column > 0 and highlight[row - 1, column - 1]:
            cell.set_facecolor(HIGHLIGHT)
            cell.get_text().set_fontweight("bold")
    return figure


def _draw(page: Page) -> Figure:
    if isinstance(page, TextPage):
        return _draw_text(page)
    if isinstance(page, FigurePage):
        return _draw_figure(page)
    return _draw_table(page)


def write_pdf(report: Report, path: Path | str) -> Path:
    """Write the report as a PDF atomically to ``path``; returns the path."""
    path = Path(path)
    with atomic_path(path) as temporary, matplotlib.rc_context(RC), PdfPages(temporary) as pdf:
        for page in paginate(report):
            pdf.savefig(_draw(page))
    return path
