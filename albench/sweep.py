"""Sweeps: the cross product of datasets x backbones x learners x strategies x seeds.

:func:`run_sweep` validates every run before doing any work, makes sure the features of
each (dataset, backbone) are cached once up front (parallel workers only read the cache),
skips runs whose results already exist (resume), runs the rest in-process or with joblib's
loky processes, and writes each run atomically (``albench.results``). Each run uses one
torch/BLAS thread whatever ``jobs`` is, so results do not depend on the parallelism.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from filelock import FileLock, Timeout
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from albench.errors import AlbenchError, InvalidSpecError, UnknownNameError
from albench.results import RUNS_DIR, is_finished, load, read_sweep, write_run, write_sweep
from albench.runner import RunInputs, RunSpec, check_sizes, check_spec, run
from albench.stats import aubc

#: (dataset, backbone, data_root) -> features of a run; must be picklable for ``jobs > 1``
InputsProvider = Callable[[str, str, "str | None"], RunInputs]

_RANGE = re.compile(r"^(\d+)-(\d+)$")


# --------------------------------------------------------------------------- parsing


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-4"``, ``"0,3,7"``, ``"0-2,5"`` -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in (p.strip() for p in str(text).split(",")):
        bounds = _RANGE.match(part)
        if bounds and int(bounds[1]) <= int(bounds[2]):
            seeds.update(range(int(bounds[1]), int(bounds[2]) + 1))
        elif part.isdigit():
            seeds.add(int(part))
        else:
            raise InvalidSpecError(f"bad seeds {text!r}: use ranges and lists like 0-4 or 0-2,5")
    return tuple(sorted(seeds))


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (no nesting), blanks dropped, order kept."""
    items = tuple(dict.fromkeys(p.strip() for p in str(text).split(",") if p.strip()))
    if not items:
        raise InvalidSpecError(f"empty list {text!r}")
    return items


def _slug(values: Iterable[str]) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", "+".join(values)).strip("_")


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: lists to cross, and the protocol shared by all its runs."""

    datasets: tuple[str, ...]
    backbones: tuple[str, ...]
    learners: tuple[str, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    rounds: int = 8
    budget: str = "1/class"
    initial: str = "random"
    initial_size: str = "1/class"
    pseudo_labels: bool = False
    pool_subsample: int | None = None
    learner_options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    data_root: str | None = None
    download: bool = False

    def __post_init__(self) -> None:
        for what in ("datasets", "backbones", "learners", "strategies", "seeds"):
            if not getattr(self, what):
                raise InvalidSpecError(f"a sweep needs at least one of {what}")
        if not self.name:
            parts = (self.datasets, self.backbones, self.learners)
            object.__setattr__(self, "name", "-".join(_slug(p) for p in parts))

    def runs(self) -> list[RunSpec]:
        """One RunSpec per combination, in (dataset, backbone, learner, strategy, seed) order."""
        combos = product(self.datasets, self.backbones, self.learners, self.strategies, self.seeds)
        return [
            RunSpec(
                dataset=dataset,
                backbone=backbone,
                learner=learner,
                strategy=strategy,
                seed=seed,
                rounds=self.rounds,
                budget=self.budget,
                initial=self.initial,
                initial_size=self.initial_size,
                pseudo_labels=self.pseudo_labels,
                pool_subsample=self.pool_subsample,
                learner_options=self.learner_options,
                data_root=self.data_root,
            )
            for dataset, backbone, learner, strategy, seed in combos
        ]

    def identity(self) -> dict[str, Any]:
        """What defines the sweep's results (not where its data lives)."""
        fields = asdict(self)
        for location in ("data_root", "download"):
            fields.pop(location)
        return fields


@dataclass(frozen=True)
class SweepResult:
    """Where the results are, all rows of the sweep, and what this call computed."""

    out: Path
    rows: pd.DataFrame
    computed: tuple[str, ...]
    skipped: tuple[str, ...]


# --------------------------------------------------------------------------- running


def default_out(sweep: SweepSpec) -> Path:
    return Path("results") / sweep.name


def default_inputs(dataset: str, backbone: str, data_root: str | None) -> RunInputs:
    """Cached features through the FeatureStore (``albench.inputs``)."""
    from albench.inputs import load_inputs

    return load_inputs(dataset, backbone, data_root=data_root)


def run_sweep(
    sweep: SweepSpec,
    out: Path | str | None = None,
    *,
    jobs: int = 1,
    inputs: InputsProvider | None = None,
    progress: Callable[[Iterator[str], int], Iterator[str]] | None = None,
) -> SweepResult:
    """Run every missing run of ``sweep`` into ``out`` (see the module docstring).

    ``inputs`` replaces the feature cache (tests, custom features); ``progress`` wraps the
    iterator of finished run ids (e.g. a progress bar) and gets the number of runs to do.
    """
    out = Path(out) if out is not None else default_out(sweep)
    specs = sweep.runs()
    validate(specs)
    provider = inputs or default_inputs
    if inputs is None:
        _prepare_features(sweep)
    features = _check_sizes(specs, provider)
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = FileLock(out / ".sweep.lock", timeout=0)
        lock.acquire()
    except Timeout:
        raise AlbenchError(f"another albench run is writing to {out}") from None
    try:
        _check_same_sweep(out, sweep, features)
        _remove_partial_files(out)
        write_sweep(out, sweep.identity(), [spec.run_id for spec in specs], features)
        todo = [spec for spec in specs if not is_finished(out, spec.run_id)]
        done = _execute_all(todo, out, sweep.name, provider, jobs)
        finished = list(progress(done, len(todo)) if progress else done)
    finally:
        _remove_partial_files(out)
        lock.release()
    ids = {spec.run_id for spec in specs}
    rows = load(out)
    return SweepResult(
        out=out,
        rows=rows[rows["run_id"].isin(ids)].reset_index(drop=True),
        computed=tuple(finished),
        skipped=tuple(spec.run_id for spec in specs if spec not in todo),
    )


def validate(specs: Sequence[RunSpec]) -> None:
    """Names, learner options and capabilities of every run, before any work."""
    seen: set[tuple[str, str, str]] = set()
    for spec in specs:
        key = (spec.strategy, spec.learner, spec.initial_size)
        if key not in seen:
            check_spec(spec)
            seen.add(key)


def _prepare_features(sweep: SweepSpec) -> None:
    """Encode (or verify) the features of every (dataset, backbone) once, up front."""
    from albench.data import dataset_names
    from albench.inputs import extract_features

    known = dataset_names()
    for dataset in sweep.datasets:
        if dataset not in known and not dataset.startswith("imagefolder:"):
            raise UnknownNameError("dataset", dataset, known)
    for dataset, backbone in product(sweep.datasets, sweep.backbones):
        extract_features(dataset, backbone, data_root=sweep.data_root, download=sweep.download)


def _check_sizes(specs: Sequence[RunSpec], provider: InputsProvider) -> dict[str, list[str]]:
    """Check every run fits its pool; the feature cache keys per "dataset / backbone"."""
    features = {}
    for spec in specs:
        inputs = provider(spec.dataset, spec.backbone, spec.data_root)
        check_sizes(spec, len(inputs.pool_labels), inputs.n_classes)
        features[f"{spec.dataset} / {spec.backbone}"] = list(inputs.feature_keys)
    return features


def _check_same_sweep(out: Path, sweep: SweepSpec, features: dict[str, list[str]]) -> None:
    """Resume only the same sweep on the same features (run ids do not hash the features)."""
    if not (out / "sweep.json").is_file():
        return
    previous = read_sweep(out)
    if previous.get("spec") != _jsonable(sweep.identity()):
        raise InvalidSpecError(
            f"{out} holds a different sweep; pass another --out (or --name) to keep both"
        )
    for pair, keys in previous.get("features", {}).items():
        if features.get(pair, keys) != keys:
            raise InvalidSpecError(
                f"the features of {pair} changed since {out} was computed (new backbone "
                "weights, preprocessing or data); pass another --out"
            )


def _jsonable(value: Any) -> Any:
    """The identity as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def _remove_partial_files(out: Path) -> None:
    """Temporary files of writes that were killed (only while holding the sweep lock)."""
    for partial in (out / RUNS_DIR).glob(".*.tmp"):
        partial.unlink(missing_ok=True)


def _execute_all(
    todo: list[RunSpec], out: Path, name: str, provider: InputsProvider, jobs: int
) -> Iterator[str]:
    if jobs <= 1 or len(todo) <= 1:
        return (execute(spec, out, name, provider) for spec in todo)
    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    return iter(parallel(delayed(execute)(spec, out, name, provider) for spec in todo))


def execute(spec: RunSpec, out: Path, sweep: str, provider: InputsProvider) -> str:
    """Run one spec on one thread and write its results; its run id."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            result = run(spec, provider(spec.dataset, spec.backbone, spec.data_root), sweep=sweep)
    finally:
        torch.set_num_threads(threads)
    write_run(out, spec.run_id, result.rows, result.selections)
    return spec.run_id


# --------------------------------------------------------------------------- summary


def summarise(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, aubc): mean accuracy per strategy and round, and mean AUBC over seeds.

    AUBC is the trapezoid area under accuracy against ``n_labelled``, normalised by the
    budget span (``albench.stats.aubc``), computed per run and averaged over seeds.
    """
    keys = ["dataset", "backbone", "learner", "strategy"]
    curves = (
        rows.groupby([*keys, "round"], sort=False)
        .agg(n_labelled=("n_labelled", "mean"), accuracy=("accuracy", "mean"))
        .reset_index()
    )
    per_run = (
        rows.sort_values("round")
        .groupby([*keys, "seed"], sort=False)
        .apply(lambda run: aubc(run["n_labelled"], run["accuracy"]), include_groups=False)
        .rename("aubc")
        .reset_index()
    )
    table = (
        per_run.groupby(keys, sort=False)
        .agg(aubc=("aubc", "mean"), aubc_std=("aubc", "std"), seeds=("seed", "count"))
        .reset_index()
    )
    return curves, table
