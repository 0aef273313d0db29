"""Reports of active-learning results: one content model, rendered to HTML and PDF.

``build_report(results, ReportOptions(...))`` computes every statistic, figure and table
once; ``write_html`` and ``write_pdf`` lay the same content out.
"""

from albench.report.build import build_report
from albench.report.context import ReportOptions
from albench.report.html import render_html, write_html
from albench.report.load import load_results
from albench.report.model import FigureBlock, Report, Section, TableBlock
from albench.report.pdf import paginate, write_pdf

__all__ = [
    "FigureBlock",
    "Report",
    "ReportOptions",
    "Section",
    "TableBlock",
    "build_report",
    "load_results",
    "paginate",
    "render_html",
    "write_html",
    "write_pdf",
]
