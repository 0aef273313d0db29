"""`albench run`: a sweep of strategies x datasets x backbones x learners x seeds.

A thin shell over :func:`albench.sweep.run_sweep`: parse, build the SweepSpec and the
backend, show one progress bar for the whole sweep, then the summary tables and where the
results are. Ctrl-C (or SIGTERM) stops the sweep with one line saying how many runs are
finished and how to resume, and exit status 130 (the shell's code for an interrupt); the
finished runs are kept and the same command finishes the rest.
"""

from __future__ import annotations

import argparse
import ast
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

from albench.errors import InvalidSpecError

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
        "learners and seeds; finished runs are kept and skipped when re-run.",
    )
    add = parser.add_argument
    add("--strategy", required=True, help="comma list, e.g. random,entropy,'pcb(badge)'")
    add("--dataset", required=True, help="comma list of dataset names")
    add("--backbone", default="offline-effnet-minilm", help="comma list of backbone specs")
    add("--learner", default="linear", help="comma list: zero-shot, linear, clip-adapter, ...")
    add("--seeds", default="0-4", help="ranges and lists, e.g. 0-4 or 0-2,5 (default 0-4)")
    add("--rounds", type=int, default=8, help="acquisition rounds (default 8)")
    add("--budget", default="1/class", help="labels per round: N or k/class (default 1/class)")
    add("--initial", default="random", help="random | zero-shot-kmeans (cold start)")
    add("--initial-size", default="1/class", help="N or k/class (default 1/class)")
    add("--pseudo-labels", action="store_true", help="train on strategies' pseudo-labels")
    add("--pool-subsample", type=int, default=None, metavar="N", help="use N pool images")
    add("--warm-start", action="store_true", help="learners continue from the last round")
    add(
        "--learner-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="learner option (repeatable), e.g. weight_decay=1e-4",
    )
    add("--jobs", type=int, default=1, help="parallel runs on this machine (local backend)")
    add(
        "--backend",
        default="local",
        help="where runs compute: local (this machine, --jobs) or dask (--scheduler / --workers)",
    )
    add("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    add("--workers", type=int, default=None, metavar="N", help="start a local Dask cluster of N")
    add("--out", default=None, help="results folder (default results/<sweep name>)")
    add("--name", default="", help="sweep name (default from dataset/backbone/learner)")
    add("--data-root", default=None, help="where datasets live")
    add("--download", action="store_true", help="download missing datasets")
    add(
        "--device",
        default="cpu",
        help="torch device for extraction and learners: cpu (default), cuda or cuda:N",
    )
    parser.set_defaults(func=main)


def learner_options(pairs: list[str], warm_start: bool) -> dict[str, Any]:
    """``["lr=0.01", "init=random"]`` -> ``{"lr": 0.01, "init": "random"}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InvalidSpecError(f"learner option {pair!r} is not KEY=VALUE")
        try:
            options[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = text.strip()
    if warm_start:
        options["warm_start"] = True
    return options


def sweep_spec(args: argparse.Namespace) -> SweepSpec:
    # deferred: the engine imports torch; parsing and `--help` should not wait for it
    from albench.strategies.registry import split_specs
    from albench.sweep import SweepSpec, parse_list, parse_seeds

    return SweepSpec(
        datasets=parse_list(args.dataset),
        backbones=parse_list(args.backbone),
        learners=parse_list(args.learner),
        strategies=tuple(dict.fromkeys(split_specs(args.strategy))),
        seeds=parse_seeds(args.seeds),
        rounds=args.rounds,
        budget=args.budget,
        initial=args.initial,
        initial_size=args.initial_size,
        pseudo_labels=args.pseudo_labels,
        pool_subsample=args.pool_subsample,
        learner_options=learner_options(args.learner_option, args.warm_start),
        name=args.name,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
    )


def main(args: argparse.Namespace) -> int:
    from albench.backends import make_backend
    from albench.sweep import default_out, run_sweep, summarise

    sweep = sweep_spec(args)
    backend = make_backend(
        args.backend, jobs=args.jobs, scheduler=args.scheduler, workers=args.workers
    )
    out = Path(args.out) if args.out is not None else default_out(sweep)
    console, errors = Console(), Console(stderr=True)

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
    curves, aubc = summarise(result.rows)
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
    """Per (dataset, backbone, learner): accuracy per strategy and round, then AUBC."""
    keys = ["dataset", "backbone", "learner"]
    by_group = dict(tuple(aubc.groupby(keys, sort=False)))
    for group, frame in curves.groupby(keys, sort=False):
        scores = by_group[group].set_index("strategy").sort_values("aubc", ascending=False)
        wide = frame.pivot_table(index="strategy", columns="round", values="accuracy")
        wide = wide.reindex(scores.index)  # both tables list strategies best AUBC first
        labels = frame.groupby("round")["n_labelled"].mean()
        title = f"{' / '.join(group)}: mean test accuracy per round"
        caption = "labels: " + ", ".join(f"{labels[r]:g}" for r in wide.columns)
        table = Table(
            title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
        )
        table.add_column("strategy", no_wrap=True)
        for round_ in wide.columns:
            table.add_column(f"r{round_}", justify="right", no_wrap=True, min_width=5)
        for strategy, values in wide.iterrows():
            table.add_row(strategy, *(f"{v:.3f}" for v in values))
        yield table
        table = Table(
            title=f"{' / '.join(group)}: AUBC",
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
                f"{score['aubc']:.4f}",
                f"{score['aubc_std']:.4f}" if score["seeds"] > 1 else "-",
                str(int(score["seeds"])),
                f"{final[strategy]:.3f}",
            )
        yield table
