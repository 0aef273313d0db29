"""The results store: one tidy row per (run, round), Parquet, written atomically.

Layout of a sweep folder::

    <out>/sweeps/<digest>.json            one record per sweep run into the folder: its spec,
                                          run ids and the feature cache keys it used
    <out>/runs/<run_id>.parquet           rows of one finished run (rounds 0..R)
    <out>/runs/<run_id>.selections.json   indices picked per round and pseudo-labels
    <out>/runs/<run_id>.claim             lock file of a run being computed (``albench.claims``)

A folder may hold several sweeps (overlapping or not): runs are shared by id, and each sweep
adds its own record. Folders written before records existed hold one ``sweep.json`` in the
same format, which :func:`read_sweeps` still reads.

Every file is written to a hidden temporary name in the same folder and renamed into place
(``os.replace``), so a reader never sees half a file, an interrupted sweep leaves only
finished runs behind, and the presence of ``<run_id>.parquet`` means the run is finished.

Columns (:data:`COLUMNS`, types in :data:`SCHEMA`); reports rely on exactly these names.

identity
    ``sweep`` (str) sweep name; ``run_id`` (str) 16-hex hash of the run's spec;
    ``dataset``, ``backbone``, ``learner``, ``strategy`` (str) as specified; ``seed`` (int64);
    ``round`` (int64) 0..R, row r is the model trained on the labels available after r
    acquisitions (round 0: the initial set only).
metrics
    ``n_labelled`` (int64) samples annotated so far (the budget spent), initial set included;
    ``n_wasted_queries`` (int64) those of them the annotator had no label for (images
    outside an open-set task; 0 without one, null in older files); ``n_pseudo``
    (int64) pseudo-labels used for training (never counted as labelled); ``n_wrong_labels``
    (int64) annotated labels the annotator revealed wrongly (a noisy-oracle scenario; 0
    without one, null in files written before it was recorded);
    ``pseudo_accuracy`` (float64) fraction of correct pseudo-labels, NaN when none;
    ``n_classes`` (int64); ``accuracy``, ``balanced_accuracy`` (float64) on the test split;
    ``worst_class_accuracy`` (float64) the lowest accuracy of one class of the test split
    (every run; NaN in files written before it was recorded);
    ``ece`` (float64) expected calibration error (15 bins) on the test split, NaN in files
    written before it was recorded (:data:`OPTIONAL`);
    ``labelled_per_class`` (list<int64>) annotated samples per true class; ``select_seconds``
    (float64) wall time of the acquisition that led to this round, NaN at round 0;
    ``train_seconds`` (float64) wall time of fitting this round's model.
evaluation and stopping (:data:`OPTIONAL`: null in files written before they were recorded)
    ``eval_learner`` (str) the evaluation learner's spec, "" for none (``albench.evaluator``);
    ``eval_accuracy`` (float64) its test accuracy, NaN without one; ``stop_kappa`` (float64)
    Cohen's kappa between this and the previous round's predictions on the stop set, NaN at
    round 0; ``max_uncertainty`` (float64) the largest prediction entropy (nats) over the
    unlabelled pool (``albench.stop_signals``); ``stop_rounds`` (str) JSON
    ``{rule: round or null}``, the round at which each stopping rule at its defaults would
    have stopped the run (``albench.stopping``), the same on every row of a run.
protocol
    ``initial`` (str) initial-set policy; ``budget`` (str) per-round budget as specified
    ("1/class" or a number); ``rounds`` (int64); ``pool_size``, ``test_size`` (int64);
    ``hyperparameters`` (str) JSON of the learner's settings; ``scenario`` (str) the
    protocol's scenario (:mod:`albench.scenarios`), "" for none (null in older files).
provenance
    ``albench_version``, ``git_commit`` ("" outside a git checkout), ``torch_version``,
    ``open_clip_version`` ("" when not installed), ``device``, ``finished_at`` (ISO 8601,
    UTC) (all str).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from albench.errors import ResultsError
from albench.files import atomic_path
from albench.specs import spec_digest

_STR, _INT, _FLOAT = pa.string(), pa.int64(), pa.float64()

SCHEMA = pa.schema(
    [
        # identity
        ("sweep", _STR),
        ("run_id", _STR),
        ("dataset", _STR),
        ("backbone", _STR),
        ("learner", _STR),
        ("strategy", _STR),
        ("seed", _INT),
        ("round", _INT),
        # metrics
        ("n_labelled", _INT),
        ("n_pseudo", _INT),
        ("n_wrong_labels", _INT),
        ("n_wasted_queries", _INT),
        ("pseudo_accuracy", _FLOAT),
        ("n_classes", _INT),
        ("accuracy", _FLOAT),
        ("balanced_accuracy", _FLOAT),
        ("worst_class_accuracy", _FLOAT),
        ("ece", _FLOAT),
        ("labelled_per_class", pa.list_(_INT)),
        ("select_seconds", _FLOAT),
        ("train_seconds", _FLOAT),
        # evaluation learner and stopping signals
        ("eval_learner", _STR),
        ("eval_accuracy", _FLOAT),
        ("stop_kappa", _FLOAT),
        ("max_uncertainty", _FLOAT),
        ("stop_rounds", _STR),
        # protocol
        ("initial", _STR),
        ("budget", _STR),
        ("rounds", _INT),
        ("pool_size", _INT),
        ("test_size", _INT),
        ("hyperparameters", _STR),
        ("scenario", _STR),
        # provenance
        ("albench_version", _STR),
        ("git_commit", _STR),
        ("torch_version", _STR),
        ("open_clip_version", _STR),
        ("device", _STR),
        ("finished_at", _STR),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
#: the evaluation learner's and the stopping rules' columns (optional: added later)
EVALUATION = ("eval_learner", "eval_accuracy", "stop_kappa", "max_uncertainty", "stop_rounds")
#: Columns added after results were first written: files without them stay readable, the
#: column reading as nulls (NaN).
OPTIONAL: tuple[str, ...] = (
    "ece",
    "n_wrong_labels",
    "scenario",
    "worst_class_accuracy",
    "n_wasted_queries",
    *EVALUATION,
)

SWEEP_FILE = "sweep.json"
SWEEPS_DIR = "sweeps"
RUNS_DIR = "runs"
_ROWS_SUFFIX = ".parquet"
_SELECTIONS_SUFFIX = ".selections.json"


# --------------------------------------------------------------------------- atomic files


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as strict JSON.

    numpy scalars and arrays become numbers and lists, NaN and infinities become null, and
    anything else unknown becomes its ``str``.
    """
    plain = _finite(json.loads(json.dumps(payload, default=_jsonable)))
    with atomic_path(path) as temporary:
        text = json.dumps(plain, indent=1, allow_nan=False)
        temporary.write_text(text + "\n", encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------- sweep folder


def run_rows_path(out: Path, run_id: str) -> Path:
    return Path(out) / RUNS_DIR / f"{run_id}{_ROWS_SUFFIX}"


def run_selections_path(out: Path, run_id: str) -> Path:
    return Path(out) / RUNS_DIR / f"{run_id}{_SELECTIONS_SUFFIX}"


def is_finished(out: Path, run_id: str) -> bool:
    """A run is finished when its Parquet file exists (it is written last)."""
    return run_rows_path(out, run_id).is_file()


def write_run(out: Path, run_id: str, rows: pd.DataFrame, selections: dict[str, Any]) -> Path:
    """Validate and write one run: selections first, then the rows that mark it finished."""
    table = to_table(rows)
    write_json(run_selections_path(out, run_id), selections)
    path = run_rows_path(out, run_id)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)
    return path


def write_sweep(
    out: Path, spec: dict[str, Any], run_ids: Sequence[str], features: dict[str, list[str]]
) -> Path:
    """``<out>/sweeps/<digest>.json``: a sweep's spec, its run ids (in expansion order) and
    the cache keys of the features each "dataset / backbone" was computed from.

    The digest hashes the spec, so rerunning a sweep rewrites its own record and another
    sweep into the same folder adds one.
    """
    path = Path(out) / SWEEPS_DIR / f"{spec_digest(spec)}.json"
    write_json(path, {"spec": spec, "run_ids": list(run_ids), "features": features})
    return path


def read_sweeps(out: Path) -> list[dict[str, Any]]:
    """Every sweep record of a folder: a legacy ``sweep.json`` first, then ``sweeps/*.json``."""
    folder = Path(out)
    legacy = [folder / SWEEP_FILE] if (folder / SWEEP_FILE).is_file() else []
    records = sorted(p for p in (folder / SWEEPS_DIR).glob("*.json") if not p.name.startswith("."))
    return [_read_record(path) for path in [*legacy, *records]]


def _read_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultsError(f"cannot read {path}: {error}") from None


# --------------------------------------------------------------------------- schema


def to_table(rows: pd.DataFrame) -> pa.Table:
    """Rows -> Arrow table in :data:`SCHEMA`; ResultsError naming the first bad column."""
    missing = [name for name in COLUMNS if name not in rows.columns]
    extra = [name for name in rows.columns if name not in COLUMNS]
    if missing or extra:
        raise ResultsError(f"results rows: missing columns {missing}, unexpected {extra}")
    arrays = []
    for field in SCHEMA:
        try:
            arrays.append(pa.array(rows[field.name].tolist(), type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as error:
            raise ResultsError(
                f"results column {field.name!r} does not fit {field.type}: {error}"
            ) from None
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def check_schema(schema: pa.Schema, source: str) -> None:
    """ResultsError (one line) unless ``schema`` has exactly :data:`SCHEMA`'s columns/types
    (an :data:`OPTIONAL` column may be missing)."""
    names = list(schema.names)
    missing = [name for name in COLUMNS if name not in names and name not in OPTIONAL]
    if missing:
        raise ResultsError(f"{source}: missing column(s) {', '.join(missing)}")
    extra = [name for name in names if name not in COLUMNS]
    if extra:
        raise ResultsError(f"{source}: unexpected column(s) {', '.join(extra)}")
    for field in SCHEMA:
        if field.name not in names:
            continue
        actual = schema.field(field.name).type
        if _plain(actual) != field.type:
            raise ResultsError(
                f"{source}: column {field.name!r} has type {actual}, expected {field.type}"
            )


def _plain(kind: pa.DataType) -> pa.DataType:
    """Large string/list variants (what pandas >= 3 writes) read as their plain types."""
    if pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return pa.list_(_plain(kind.value_type))
    return kind


# --------------------------------------------------------------------------- loading


def result_files(path: Path | str) -> list[Path]:
    """Parquet files under a sweep folder, a runs folder, a folder holding sweep folders at
    any depth (``results/demo`` with one sweep per learner below it), or the file itself."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ResultsError(f"no results at {path}: not a file or folder")
    if (path / RUNS_DIR).is_dir():
        return _parquet_files(path / RUNS_DIR)
    return _parquet_files(path) or [
        file for folder in sweep_folders(path) for file in _parquet_files(folder / RUNS_DIR)
    ]


def sweep_folders(path: Path | str) -> list[Path]:
    """The sweep folders (those with a ``runs`` folder) at or below ``path``, sorted."""
    path = Path(path)
    if path.is_file():
        return []
    return sorted({runs.parent for runs in path.rglob(RUNS_DIR) if runs.is_dir()})


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(f"*{_ROWS_SUFFIX}") if not p.name.startswith("."))


def load(paths: Path | str | Sequence[Path | str]) -> pd.DataFrame:
    """All rows of the given sweep folders, runs folders or Parquet files, validated.

    Raises ResultsError with one line when nothing is found or a file does not match
    :data:`SCHEMA`. ``labelled_per_class`` comes back as lists of ints.
    """
    sources = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files = [file for source in sources for file in result_files(source)]
    if not files:
        shown = ", ".join(str(source) for source in sources)
        raise ResultsError(f"no results (*.parquet) found in {shown}")
    tables = [_read_checked(file) for file in files]
    frame = pa.concat_tables(tables).to_pandas()
    frame["labelled_per_class"] = frame["labelled_per_class"].map(lambda counts: counts.tolist())
    return frame


def expand_hyperparameters(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with one column per learner hyper-parameter (``hp.<name>``), parsed from the
    ``hyperparameters`` JSON, so that settings can be grouped and filtered like any column.

    A setting a learner does not have is NaN on its rows.
    """
    settings = pd.DataFrame(
        [json.loads(text) for text in rows["hyperparameters"]], index=rows.index
    ).add_prefix("hp.")
    return pd.concat([rows, settings], axis=1)


def _read_checked(file: Path) -> pa.Table:
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowInvalid) as error:
        raise ResultsError(f"{file}: unreadable Parquet ({error})") from None
    check_schema(table.schema, str(file))
    for name in OPTIONAL:
        if name not in table.schema.names:
            table = table.append_column(name, pa.nulls(len(table), SCHEMA.field(name).type))
    return table.select(list(COLUMNS)).cast(SCHEMA)
