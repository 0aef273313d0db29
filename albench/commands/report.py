"""`albench report`: statistics, figures and tables of one or more result folders.

Writes one self-contained HTML page (and, with ``--pdf``, the same content as a PDF) and
prints the paths written. Everything it does is :func:`albench.report.build_report` plus the
two renderers; the heavy plotting stack is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

REPORTS_DIR = Path("reports")
METRICS = ("accuracy", "balanced_accuracy")
BANDS = ("se", "ci95", "none")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="HTML (and PDF) report with curves, AUBC and significance tests",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "results", nargs="+", type=Path,
        help="sweep folders, folders holding sweep folders, or Parquet files",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, help="HTML file to write (default: reports/<first results name>.html)"
    )
    parser.add_argument("--pdf", action="store_true", help="also write the PDF next to the HTML")
    parser.add_argument("--baseline", default="random", help="strategy to compare against")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--metric", choices=METRICS, default="accuracy", help="what the curves and tests use"
    )
    parser.add_argument(
        "--band", choices=BANDS, default="se",
        help="band around mean learning curves: standard error (default), 95%% t-interval, none",
    )  # fmt: skip
    parser.add_argument(
        "--low-budget-fraction",
        type=float,
        default=0.33,
        help="low-budget AUBC window, as a fraction of the budget span (default 0.33)",
    )
    parser.add_argument(
        "--no-full-data", action="store_true",
        help="do not compute missing full-data and zero-shot references (one run each per "
        "dataset, backbone, learner and seed, kept in <sweep>/references/)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def default_out(results: list[Path]) -> Path:
    """``reports/<name of the first results folder (or file stem)>.html``."""
    first = results[0]
    name = first.stem if first.suffix == ".parquet" else first.resolve().name
    return REPORTS_DIR / f"{name}.html"


def run(args: argparse.Namespace) -> int:
    from albench import results
    from albench.report import ReportOptions, build_report, load_results, write_html, write_pdf
    from albench.report.reproduce import commands

    frame = load_results(args.results)
    options = ReportOptions(
        metric=args.metric,
        baseline=args.baseline,
        alpha=args.alpha,
        low_fraction=args.low_budget_fraction,
        band=args.band,
        title=f"albench report: {', '.join(p.name for p in args.results)}",
    )
    folders = [folder for path in args.results for folder in results.sweep_folders(path)]
    records = [(folder, record) for folder in folders for record in results.read_sweeps(folder)]
    found = _references(records, frame, compute=not args.no_full_data)
    report = build_report(frame, options, commands(records, set(frame["run_id"])), found)
    out = args.out or default_out(args.results)
    written = [write_html(report, out)]
    if args.pdf:
        written.append(write_pdf(report, out.with_suffix(".pdf")))
    for path in written:
        print(path)
    return 0


def _references(records: list, frame: Any, compute: bool) -> Any:
    """Reference rows of every sweep folder (computing the missing ones when ``compute``)."""
    import pandas as pd

    from albench.errors import AlbenchError
    from albench.reference import references

    found = []
    try:
        for folder in dict.fromkeys(folder for folder, _ in records):
            own = [record for where, record in records if where == folder]
            ids = {run_id for record in own for run_id in record.get("run_ids", ())}
            found.append(references(folder, own, frame[frame["run_id"].isin(ids)], compute))
    except AlbenchError as error:
        message = f"{error} (while computing reference runs; --no-full-data skips them)"
        raise AlbenchError(message) from error
    return pd.concat([*found, pd.DataFrame()], ignore_index=True)
