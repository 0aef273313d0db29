"""Render a :class:`~albench.report.model.Report` as a multi-page PDF (matplotlib PdfPages).

The same content as the HTML page, laid out on A4 landscape pages: text pages for the header,
legend and notes; one page per figure (the figure's image under its title, caption right below it);
tables, cut into pieces of at most :data:`ROWS_PER_PAGE` rows and packed several to a page
while they fit. Pages are numbered. :func:`paginate` decides the pages, so the page count is
known without rendering.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.image
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from albench.files import atomic_path
from albench.report.model import PNG_DPI, FigureBlock, Report, TableBlock
from albench.report.style import RC

PAGE = (11.69, 8.27)
TOP, BOTTOM, LEFT = 0.86, 0.05, 0.04
LINE = 0.024
MIN_LINE = 0.018  # front matter is squeezed down to this before it spills onto a new page
ROW = 0.03
ROWS_PER_PAGE = 22
MAX_ENLARGE = 1.6
CELL_WRAP = 110
WRAP = 120
HIGHLIGHT = "#ddf4ff"
HEADER = "#eef1f4"
FONT_SIZES = (9.0, 8.0, 7.0, 6.0, 5.0)


@dataclass(frozen=True)
class TextPage:
    title: str
    lines: tuple[str, ...]
    line_height: float = LINE


@dataclass(frozen=True)
class FigurePage:
    section: str
    block: FigureBlock


@dataclass(frozen=True)
class TablePiece:
    """Rows ``start:stop`` of a table; ``part`` of ``parts`` when the table is cut."""

    block: TableBlock
    start: int
    stop: int
    part: int
    parts: int

    @property
    def height(self) -> float:
        """Page height taken: title, header and rows, caption, gap (figure fraction)."""
        caption = len(textwrap.wrap(self.block.caption, 150)) * 0.022
        return 0.045 + (self.stop - self.start + 1) * ROW + caption + 0.035


@dataclass(frozen=True)
class TablePage:
    section: str
    pieces: tuple[TablePiece, ...]


Page = TextPage | FigurePage | TablePage


def _front_lines(report: Report) -> list[str]:
    lines = ["VERDICT"] + [f"• {line}" for line in report.verdict] + [""] if report.verdict else []
    lines += [f"{label}: {value or '—'}" for label, value in report.provenance.items()]
    lines += ["", "LEGEND"] + [f"{mark}  {meaning}" for mark, meaning in report.legend.items()]
    if report.notes:
        lines += ["", "NOTES"] + [f"• {note}" for note in report.notes]
    return [part for line in lines for part in (textwrap.wrap(line, WRAP) or [""])]


def wrap_cells(block: TableBlock, width: int = CELL_WRAP) -> TableBlock:
    """The table with every cell longer than ``width`` characters wrapped onto continuation
    rows (blank elsewhere), as a page cannot scroll sideways: a long command stays whole."""
    lines = block.frame.map(
        lambda text: textwrap.wrap(str(text), width, break_on_hyphens=False) or [""]
    )
    depth = lines.apply(lambda row: max(map(len, row)), axis=1)
    if (depth <= 1).all():
        return block
    rows, marks, index = [], [], []
    for i, (label, row) in enumerate(lines.iterrows()):
        for line in range(depth.iloc[i]):
            rows.append([cell[line] if line < len(cell) else "" for cell in row])
            marks.append(block.highlight.iloc[i].to_numpy() & (line == 0))
            index.append(label if line == 0 else "")
    frame = pd.DataFrame(rows, index=pd.Index(index), columns=block.frame.columns)
    highlight = pd.DataFrame(marks, index=frame.index, columns=block.frame.columns)
    return TableBlock(block.title, frame, highlight, block.index_name, block.caption)


def _pieces(block: TableBlock) -> list[TablePiece]:
    block = wrap_cells(block)
    rows = len(block.frame)
    parts = max(1, -(-rows // ROWS_PER_PAGE))
    return [
        TablePiece(block, i * ROWS_PER_PAGE, min(rows, (i + 1) * ROWS_PER_PAGE), i + 1, parts)
        for i in range(parts)
    ]


def paginate(report: Report) -> list[Page]:
    """The pages of the PDF, in order."""
    lines = _front_lines(report)
    line_height = max(MIN_LINE, min(LINE, (TOP - BOTTOM) / max(1, len(lines))))
    per_page = int((TOP - BOTTOM) / line_height)
    pages: list[Page] = [
        TextPage(report.title, tuple(lines[i : i + per_page]), line_height)
        for i in range(0, len(lines), per_page)
    ]
    for section in report.sections:
        pending: list[TablePiece] = []
        for block in section.blocks:
            if isinstance(block, FigureBlock):
                if pending:
                    pages.append(TablePage(section.title, tuple(pending)))
                    pending = []
                pages.append(FigurePage(section.title, block))
                continue
            for piece in _pieces(block):
                if pending and sum(p.height for p in pending) + piece.height > TOP - BOTTOM:
                    pages.append(TablePage(section.title, tuple(pending)))
                    pending = []
                pending.append(piece)
        if pending:
            pages.append(TablePage(section.title, tuple(pending)))
    return pages


def _page(heading: str, title: str = "") -> Figure:
    figure = Figure(figsize=PAGE)
    FigureCanvasAgg(figure)
    figure.text(LEFT, 0.955, heading, fontsize=9, color="0.4")
    if title:
        figure.text(LEFT, 0.91, title, fontsize=15, fontweight="bold")
    return figure


def _caption(figure: Figure, y: float, text: str) -> None:
    wrapped = "\n".join(textwrap.wrap(text, 150))
    figure.text(LEFT, y, wrapped, fontsize=8, color="0.3", va="top", linespacing=1.3)


def _draw_text(page: TextPage) -> Figure:
    figure = _page("albench report", page.title)
    size = 9.5 * page.line_height / LINE
    for i, line in enumerate(page.lines):
        bold = line in ("VERDICT", "LEGEND", "NOTES")
        figure.text(LEFT, TOP - i * page.line_height, line, fontsize=size,
                    fontweight="bold" if bold else "normal")  # fmt: skip
    return figure


def _draw_figure(page: FigurePage) -> Figure:
    """The figure's image sized to the page under the title (enlarged at most
    :data:`MAX_ENLARGE` times, so small figures keep readable proportions), caption below."""
    image = matplotlib.image.imread(io.BytesIO(page.block.png()), format="png")
    figure = _page(page.section, page.block.title)
    box_width, box_height = 1 - 2 * LEFT, 0.74
    height, width = (n / PNG_DPI for n in image.shape[:2])
    scale = min(MAX_ENLARGE, box_width * PAGE[0] / width, box_height * PAGE[1] / height)
    w, h = width * scale / PAGE[0], height * scale / PAGE[1]
    top = 0.89
    ax = figure.add_axes((LEFT + (box_width - w) / 2, top - h, w, h))
    ax.imshow(image, interpolation="antialiased")
    ax.set_axis_off()
    if page.block.caption:
        _caption(figure, top - h - 0.02, page.block.caption)
    return figure


def _draw_piece(figure: Figure, piece: TablePiece, top: float) -> None:
    """One table piece below ``top``: bold title, table (shrunk to the page width), caption."""
    block = piece.block
    title = block.title + (f" ({piece.part}/{piece.parts})" if piece.parts > 1 else "")
    figure.text(LEFT, top, title, fontsize=11, fontweight="bold", va="top")
    frame = block.frame.iloc[piece.start : piece.stop]
    cells = [[str(i), *map(str, row)] for i, row in zip(frame.index, frame.to_numpy(), strict=True)]
    labels = [block.index_name, *map(str, frame.columns)]
    height = (len(cells) + 1) * ROW
    ax = figure.add_axes((LEFT, top - 0.04 - height, 1 - 2 * LEFT, height))
    ax.set_axis_off()
    renderer = figure.canvas.get_renderer()
    for size in FONT_SIZES:
        table = ax.table(cells, colLabels=labels, loc="upper left", cellLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(size)
        table.auto_set_column_width(range(len(labels)))
        for cell in table.get_celld().values():
            cell.set_height(1 / (len(cells) + 1))
        fits = table.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width
        if fits or size == FONT_SIZES[-1]:
            break
        table.remove()
    highlight = block.highlight.iloc[piece.start : piece.stop].to_numpy()
    numeric = block.numeric()
    for (row, column), cell in table.get_celld().items():
        cell.set_edgecolor("0.82")
        text = column == 0 or not numeric[column - 1]
        cell.get_text().set_horizontalalignment("left" if text else "right")
        if row == 0:
            cell.set_facecolor(HEADER)
            cell.get_text().set_fontweight("bold")
        elif column > 0 and highlight[row - 1, column - 1]:
            cell.set_facecolor(HIGHLIGHT)
            cell.get_text().set_fontweight("bold")
    if block.caption:
        _caption(figure, top - 0.05 - height, block.caption)


def _draw_tables(page: TablePage) -> Figure:
    figure = _page(page.section)
    top = 0.92
    for piece in page.pieces:
        _draw_piece(figure, piece, top)
        top -= piece.height
    return figure


def _draw(page: Page) -> Figure:
    if isinstance(page, TextPage):
        return _draw_text(page)
    if isinstance(page, FigurePage):
        return _draw_figure(page)
    return _draw_tables(page)


def write_pdf(report: Report, path: Path | str) -> Path:
    """Write the report as a PDF atomically to ``path``; returns the path."""
    path = Path(path)
    with atomic_path(path) as temporary, matplotlib.rc_context(RC), PdfPages(temporary) as pdf:
        pages = paginate(report)
        for number, page in enumerate(pages, start=1):
            figure = _draw(page)
            figure.text(1 - LEFT, 0.02, f"{number} / {len(pages)}", ha="right", fontsize=8,
                        color="0.4")  # fmt: skip
            pdf.savefig(figure)
    return path
