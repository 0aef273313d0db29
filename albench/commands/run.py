"""`albench run`: a sweep of strategies x datasets x backbones x learners x seeds.

A thin shell over :func:`albench.sweep.run_sweep`: parse, build the SweepSpec and the
backend, show one progress bar for the whole sweep, then the summary tables and where the
results are. Ctrl-C (or SIGTERM) stops the sweep with one line saying how many runs are
finished and how to resume, and exit status 130 (the shell's code for an interrupt); the
finished runs are kept and the same command finishes the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from albench.checks import check_names
from albench.commands.sweep_options import sweep_from_args

#: exit status after Ctrl-C or SIGTERM (128 + SIGINT, what shells report for an interrupt)
EXIT_INTERRUPTED = 130

if TYPE_CHECKING:
    import pandas as pd

    from albench.sweep import SweepSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run an active-learning sweep",
        description="Run every combination of the listed strategies, datasets, backbones, "
        "learners and seeds under one protocol; finished runs are kept and skipped when "
        "re-run. Strategies and learners take options inline: 'pcb(badge, candidates=8)', "
        "'coop(steps=50, class_specific=True)'.",
    )
    add = parser.add_argument
    add("--config", metavar="FILE", help="sweep file (TOML); flags override its fields")
    add(
        "--protocol",
        metavar="PRESET",
        help="start from a protocol preset (albench protocols), e.g. pcb; flags override it",
    )
    required = "(required unless the --config file gives it)"
    add("--strategy", help=f"comma list of strategy specs, e.g. random,'pcb(badge)' {required}")
    add("--dataset", help=f"comma list of dataset names (albench datasets) {required}")
    add("--backbone", help="comma list of backbone specs (default: offline-effnet-minilm)")
    add(
        "--learner",
        help="comma list of learner specs, e.g. linear,'coop(steps=50)' (default: linear)",
    )
    add("--seeds", help="ranges and lists, e.g. 0-4 or 0-2,5 (default: 0-4)")
    add("--rounds", type=int, help="acquisition rounds (default: 8)")
    add("--budget", help="labels per round: N or k/class (default: 1/class)")
    add(
        "--initial",
        help=(
            "initial-set policy: random | zero-shot-kmeans | typiclust | probcover | "
            "max-herding (all but random: cold start) (default: random)"
        ),
    )
    add("--initial-size", help="labels of the initial set: N or k/class (default: 1/class)")
    add(
        "--pseudo-labels",
        action="store_true",
        default=None,
        help="train on the pseudo-labels strategies propose (default: off)",
    )
    add("--pool-subsample", type=int, metavar="N", help="use a seeded subsample of N pool images")
    add("--warm-start", action="store_true", help="learners continue from the last round")
    add(
        "--views",
        type=int,
        metavar="K",
        help="cached views per pool image: 1 plain + K-1 random-resized-crop + flip views that "
        "feature-space learners draw from in training (default: 1)",
    )
    add(
        "--scenario",
        help="a departure from the ideal annotator, e.g. 'noisy-oracle(rate=0.2)', or a comma "
        "list of them to cross, none for the ideal one (default: none)",
    )
    add(
        "--eval-learner",
        metavar="LEARNER",
        help="also train this learner on every round's labels, for evaluation only "
        "(selections stay the learner's), e.g. 'coop(steps=50)' (default: none)",
    )
    add(
        "--learner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for every learner that has it (repeatable), e.g. weight_decay=1e-4",
    )
    add(
        "--jobs",
        type=int,
        default=1,
        help="parallel runs on this machine, local backend (default: 1)",
    )
    add(
        "--backend",
        default="local",
        help="where runs compute: local (this machine, --jobs) or dask (--scheduler / --workers) "
        "(default: local)",
    )
    add("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    add("--workers", type=int, metavar="N", help="start a local Dask cluster of N workers")
    add("--out", help="results folder (default: results/<sweep name>)")
    add("--name", help="sweep name (default: from datasets, backbones and learners)")
    add("--data-root", help="where datasets live (default: $ALBENCH_DATA or the cache)")
    add("--download", action="store_true", help="download missing datasets")
    add(
        "--allow-partial",
        action="store_true",
        help="accept a dataset copy whose sizes differ from its spec (recorded with the sweep)",
    )
    add(
        "--skip-unreadable",
        action="store_true",
        help="leave out images that cannot be decoded (listed; recorded with the sweep)",
    )
    add(
        "--device",
        default="cpu",
        help="torch device for extraction and learners: cpu, cuda[:N] (default: cpu)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    sweep = sweep_from_args(args)
    check_names(sweep)
    errors = Console(stderr=True)
    for learner, strategy, missing in sweep.left_out():
        errors.print(
            f"left out: strategy {strategy!r} under learner {learner!r} (needs "
            f"{', '.join(sorted(missing))}, which {learner!r} does not provide)",
            highlight=False,
        )
    # deferred: the engine imports torch; a mistake above is reported before it loads
    from albench.backends import make_backend
    from albench.stats import sweep_summary
    from albench.sweep import default_out, run_sweep

    backend = make_backend(
        args.backend, jobs=args.jobs, scheduler=args.scheduler, workers=args.workers
    )
    out = Path(args.out) if args.out is not None else default_out(sweep)
    console = Console()

    def bar(done: Iterator[str], total: int) -> Iterator[str]:
        if total == 0:
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=errors, transient=False) as progress:
            task = progress.add_task(f"{sweep.name} runs", total=total)
            for run_id in done:
                progress.advance(task)
                yield run_id

    try:
        with _terminate_as_interrupt():
            result = run_sweep(
                sweep, out, backend=backend, progress=bar, notify=lambda line: errors.print(line)
            )
    except KeyboardInterrupt:
        print(_resume_line(sweep, out), file=sys.stderr)
        return EXIT_INTERRUPTED
    curves, aubc = sweep_summary(result.rows)
    for table in _tables(curves, aubc):
        console.print(table)
    elsewhere = f", {len(result.elsewhere)} by another process" if result.elsewhere else ""
    console.print(
        f"{len(result.computed)} runs computed, {len(result.skipped)} already done"
        f"{elsewhere}; results in {result.out}"
    )
    return 0


def _resume_line(sweep: SweepSpec, out: Path) -> str:
    """The one line printed on Ctrl-C: what is kept and how to finish."""
    from albench.results import is_finished

    specs = sweep.runs()
    finished = sum(is_finished(out, spec.run_id) for spec in specs)
    return (
        f"albench: interrupted; {finished} of {len(specs)} runs are finished in {out}; "
        "rerun the same albench run command to finish the rest"
    )


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's or ``kill``'s stop) cleans up like Ctrl-C: finished runs stay."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tables(curves: pd.DataFrame, aubc: pd.DataFrame) -> Iterator[Table]:
    """Per (dataset, scenario when several, backbone, learner): accuracy per strategy and
    round, then AUBC, both in % (the unit of the report)."""
    keys = [key for key in aubc.columns if key in ("dataset", "scenario", "backbone", "learner")]
    by_group = dict(tuple(aubc.groupby(keys, sort=False)))
    for group, frame in curves.groupby(keys, sort=False):
        scores = by_group[group].set_index("strategy").sort_values("aubc", ascending=False)
        wide = frame.pivot_table(index="strategy", columns="round", values="accuracy")
        wide = wide.reindex(scores.index)  # both tables list strategies best AUBC first
        labels = frame.groupby("round")["n_labelled"].mean()
        name = " / ".join(part or "no scenario" for part in group)
        title = f"{name}: mean test accuracy (%) per round"
        caption = "labels: " + ", ".join(f"{labels[r]:g}" for r in wide.columns)
        table = Table(
            title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
        )
        table.add_column("strategy", no_wrap=True)
        for round_ in wide.columns:
            table.add_column(f"r{round_}", justify="right", no_wrap=True, min_width=5)
        for strategy, values in wide.iterrows():
            table.add_row(strategy, *(f"{100 * v:.1f}" for v in values))
        yield table
        table = Table(
            title=f"{name}: AUBC and final accuracy (%)",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for column in ("strategy", "AUBC", "sd", "seeds", "final"):
            table.add_column(
                column, justify="left" if column == "strategy" else "right", no_wrap=True
            )
        final = wide.iloc[:, -1]
        for strategy, score in scores.iterrows():
            table.add_row(
                strategy,
                f"{100 * score['aubc']:.2f}",
                f"{100 * score['aubc_std']:.2f}" if score["seeds"] > 1 else "-",
                str(int(score["seeds"])),
                f"{100 * final[strategy]:.1f}",
            )
        yield table
