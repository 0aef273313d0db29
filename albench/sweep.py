"""Sweeps: the cross product of datasets x backbones x learners x strategies x seeds.

:func:`run_sweep` validates every run and checks the results folder is writable before doing
any work, makes sure the features of each (dataset, backbone) are cached once up front,
records the sweep in the folder, and computes every run not finished yet through a backend
(``albench.backends``: this process, local processes, or a Dask cluster). Each run uses one
torch/BLAS thread whatever the backend, so results do not depend on the parallelism.

Several sweeps may share a folder, at the same time too: each run is computed under its
claim (``albench.claims``), so a run is computed once and written once whoever wants it. A
run another process holds is skipped at first; once this sweep has nothing else to do, it
waits for those runs (computing any whose holder died), so that when :func:`run_sweep`
returns every run of the sweep is finished. The driver process alone writes results; a run is
visible only once complete (``albench.results``), so a sweep killed at any moment leaves
finished runs and nothing half-written, and rerunning it computes only what is missing.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from albench.backends import Backend, InputsProvider, LocalBackend, Session
from albench.checks import check_names, source_datasets
from albench.claims import Claim, folder_lock, remove_orphans, remove_temporaries, try_claim
from albench.errors import InvalidSpecError, ResultsError
from albench.inputs import RunInputs
from albench.joined_inputs import join_sources
from albench.results import (
    RUNS_DIR,
    SWEEPS_DIR,
    is_finished,
    load,
    read_sweeps,
    write_run,
    write_sweep,
)
from albench.runner import check_sizes, check_spec
from albench.scenarios import scenario_sources
from albench.specs import RunSpec, SweepSpec
from albench.task import task_of

#: seconds between looks at runs another process is computing
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class SweepResult:
    """Where the results are, all rows of the sweep, and who computed which run.

    ``computed``: runs this call computed; ``skipped``: runs already finished when it
    started; ``elsewhere``: runs another process finished while this call ran.
    """

    out: Path
    rows: pd.DataFrame
    computed: tuple[str, ...]
    skipped: tuple[str, ...]
    elsewhere: tuple[str, ...] = ()


# --------------------------------------------------------------------------- running


def default_out(sweep: SweepSpec) -> Path:
    return Path("results") / sweep.name


def check_device(device: str) -> None:
    """InvalidSpecError unless ``device`` names a torch device this machine has.

    Checked when the sweep is specified, so ``--device cuda`` on a machine without a GPU
    fails before any feature is extracted.
    """
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidSpecError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise InvalidSpecError(f"device {device!r}: no CUDA device is visible on this machine")
    if parsed.type not in {"cpu", "cuda"}:
        raise InvalidSpecError(f"device {device!r}: albench runs on cpu or cuda")


def default_inputs(
    dataset: str,
    backbone: str,
    data_root: str | None,
    device: str = "cpu",
    allow_partial: bool = False,
    skip_unreadable: bool = False,
    views: int = 1,
) -> RunInputs:
    """Cached features through the FeatureStore (``albench.inputs``), backbone on ``device``,
    with ``views`` views per pool image."""
    from albench.inputs import load_inputs

    return load_inputs(
        dataset,
        backbone,
        data_root=data_root,
        device=device,
        allow_partial=allow_partial,
        skip_unreadable=skip_unreadable,
        views=views,
    )


def run_sweep(
    sweep: SweepSpec,
    out: Path | str | None = None,
    *,
    jobs: int = 1,
    backend: Backend | None = None,
    inputs: InputsProvider | None = None,
    progress: Callable[[Iterator[str], int], Iterator[str]] | None = None,
    notify: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run every missing run of ``sweep`` into ``out`` (see the module docstring).

    ``backend`` defaults to the local one with ``jobs`` processes. ``inputs`` replaces the
    feature cache (tests, custom features); ``progress`` wraps the iterator of finished run
    ids (e.g. a progress bar) and gets the number of runs to do; ``notify`` gets one line
    when the sweep starts waiting for runs another process computes.
    """
    out = Path(out) if out is not None else default_out(sweep)
    backend = backend if backend is not None else LocalBackend(jobs=jobs)
    check_device(sweep.device)
    if inputs is None:  # injected inputs may name datasets and backbones of their own
        check_names(sweep)
    specs = sweep.runs()
    validate(specs)
    check_writable(out)
    provider = inputs or partial(
        default_inputs,
        device=sweep.device,
        allow_partial=sweep.allow_partial,
        skip_unreadable=sweep.skip_unreadable,
        views=sweep.protocol.views,
    )
    outcome: dict[str, list[str]] = {_COMPUTED: [], _ELSEWHERE: []}
    with backend.open(provider) as session:  # an unreachable cluster fails before features
        if inputs is None:
            _prepare_features(sweep)
        features = _check_sizes(specs, provider)
        (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
        _record(out, sweep, specs, features)
        remove_orphans(out)
        todo = [spec for spec in specs if not is_finished(out, spec.run_id)]
        done = _drive(todo, out, sweep.name, session, outcome, notify or (lambda line: None))
        list(progress(done, len(todo)) if progress else done)
    ids = {spec.run_id for spec in specs}
    rows = load(out)
    return SweepResult(
        out=out,
        rows=rows[rows["run_id"].isin(ids)].reset_index(drop=True),
        computed=tuple(outcome[_COMPUTED]),
        skipped=tuple(spec.run_id for spec in specs if spec not in todo),
        elsewhere=tuple(outcome[_ELSEWHERE]),
    )


def validate(specs: Sequence[RunSpec]) -> None:
    """Names, learner options and capabilities of every run, before any work."""
    seen: set[tuple[str, str, str]] = set()
    for spec in specs:
        key = (spec.strategy, spec.learner_spec, spec.protocol.initial_size)
        if key not in seen:
            check_spec(spec)
            seen.add(key)


def check_writable(out: Path) -> None:
    """ResultsError unless results can be written under ``out``; creates nothing.

    Checked before features are extracted, so a mistaken ``--out`` costs no compute.
    """
    folders = [out, out / RUNS_DIR, out / SWEEPS_DIR]
    existing = [folder for folder in folders if folder.exists()]
    if not existing:
        existing = [next(parent for parent in out.absolute().parents if parent.exists())]
    for folder in existing:
        if not folder.is_dir():
            raise ResultsError(f"cannot write results to {out}: {folder} is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ResultsError(f"cannot write results to {out}: {folder} is not writable")


def _prepare_features(sweep: SweepSpec) -> None:
    """Encode (or verify) the features of every (dataset, backbone) once, up front (the
    datasets scenarios draw pool images from too)."""
    from albench.inputs import extract_features

    datasets = dict.fromkeys([*sweep.datasets, *source_datasets(sweep)])
    for dataset, backbone in product(datasets, sweep.backbones):
        extract_features(
            dataset,
            backbone,
            data_root=sweep.data_root,
            download=sweep.download,
            device=sweep.device,
            allow_partial=sweep.allow_partial,
            skip_unreadable=sweep.skip_unreadable,
            views=sweep.protocol.views,
        )


def _check_sizes(specs: Sequence[RunSpec], provider: InputsProvider) -> dict[str, list[str]]:
    """Check every run fits its pool; the feature cache keys per "dataset / backbone"."""
    features = {}
    for spec in specs:
        inputs = provider(spec.dataset, spec.backbone, spec.data_root)
        task = task_of(spec, join_sources(spec, inputs, provider), annotated=False)
        check_sizes(spec, len(task.pool), task.n_classes)
        features[f"{spec.dataset} / {spec.backbone}"] = list(inputs.feature_keys)
        for source in scenario_sources(spec.protocol.scenario):
            keys = provider(source, spec.backbone, spec.data_root).feature_keys
            features[f"{source} / {spec.backbone}"] = list(keys)
    return features


def _record(
    out: Path, sweep: SweepSpec, specs: Sequence[RunSpec], features: dict[str, list[str]]
) -> None:
    """Add this sweep's record to the folder, refusing features that changed under it.

    Run ids do not hash the features, so every sweep sharing a folder must have used the
    same cached features for each (dataset, backbone) it shares with the others.
    """
    with folder_lock(out):
        for record in read_sweeps(out):
            for pair, keys in record.get("features", {}).items():
                if features.get(pair, keys) != keys:
                    raise InvalidSpecError(
                        f"the features of {pair} changed since {out} was computed (new "
                        "backbone weights, preprocessing or data); pass another --out"
                    )
        for leftover in (out / SWEEPS_DIR).glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        write_sweep(out, _jsonable(sweep.identity()), [s.run_id for s in specs], features)


def _jsonable(value: Any) -> Any:
    """The identity as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


_COMPUTED, _ELSEWHERE = "computed", "elsewhere"


def _drive(
    todo: Sequence[RunSpec],
    out: Path,
    name: str,
    session: Session,
    outcome: dict[str, list[str]],
    notify: Callable[[str], None],
) -> Iterator[str]:
    """Claim, submit, collect and write runs until every run of ``todo`` is finished.

    Yields each run id as it finishes, here or in another process, and appends it to
    ``outcome[_COMPUTED]`` or ``outcome[_ELSEWHERE]``. At most ``session.capacity`` runs
    are in flight; each holds its claim from submission until its result is written.
    """
    queue: deque[RunSpec] = deque(todo)
    held: list[RunSpec] = []
    running: dict[Any, tuple[RunSpec, Claim]] = {}
    told = False
    try:
        while queue or held or running:
            queue.extend(held)
            held.clear()
            while queue and len(running) < session.capacity:
                spec = queue.popleft()
                claim = try_claim(out, spec.run_id)
                if claim is None:
                    held.append(spec)
                elif is_finished(out, spec.run_id):
                    claim.release(finished=True)
                    outcome[_ELSEWHERE].append(spec.run_id)
                    yield spec.run_id
                else:
                    remove_temporaries(out, spec.run_id)
                    running[_submit(session, spec, name, claim)] = (spec, claim)
            if running:
                for future in session.wait(list(running)):
                    spec, claim = running.pop(future)
                    try:
                        result = future.result()
                        write_run(out, spec.run_id, result.rows, result.selections)
                    except BaseException:
                        claim.release(finished=False)
                        raise
                    claim.release(finished=True)
                    outcome[_COMPUTED].append(spec.run_id)
                    yield spec.run_id
            elif held:
                if not told:
                    notify(
                        f"{len(held)} runs are being computed by another process; waiting for "
                        "them (runs whose process stops are computed here)"
                    )
                    told = True
                time.sleep(POLL_SECONDS)
    finally:
        for _, claim in running.values():
            claim.release(finished=False)


def _submit(session: Session, spec: RunSpec, name: str, claim: Claim) -> Any:
    """Submit a claimed run; the claim is released if submission fails."""
    try:
        return session.submit(spec, name)
    except BaseException:
        claim.release(finished=False)
        raise
