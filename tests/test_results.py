"""Results store: schema, atomic writes, loading and validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runner_fakes import make_inputs, one_thread  # noqa: F401

from albench.errors import ResultsError
from albench.protocol import Protocol
from albench.results import (
    COLUMNS,
    SCHEMA,
    is_finished,
    load,
    run_rows_path,
    run_selections_path,
    to_table,
    write_run,
)
from albench.runner import run
from albench.specs import RunSpec


@pytest.fixture(scope="module")
def result():
    spec = RunSpec(
        dataset="blobs",
        backbone="fake",
        learner="linear",
        strategy="entropy",
        seed=0,
        protocol=Protocol(rounds=2),
    )
    return run(spec, make_inputs(), sweep="demo")


def test_round_trip_keeps_values_and_types(tmp_path, result):
    path = write_run(tmp_path, result.rows["run_id"][0], result.rows, result.selections)
    assert path == run_rows_path(tmp_path, result.rows["run_id"][0])
    loaded = load(tmp_path)
    assert list(loaded.columns) == list(COLUMNS)
    assert pq.read_schema(path).remove_metadata().equals(SCHEMA)
    for column in ("seed", "round", "n_labelled", "n_pseudo", "n_classes", "rounds"):
        assert loaded[column].dtype == np.int64
    for column in ("accuracy", "balanced_accuracy", "pseudo_accuracy", "select_seconds"):
        assert loaded[column].dtype == np.float64
    assert loaded["labelled_per_class"].tolist() == result.rows["labelled_per_class"].tolist()
    pd.testing.assert_frame_equal(
        loaded.drop(columns=["labelled_per_class"]),
        result.rows.drop(columns=["labelled_per_class"]),
        check_dtype=False,
    )
    assert loaded["sweep"].unique().tolist() == ["demo"]
    assert json.loads(loaded["hyperparameters"][0])["init"] == "text"


def test_files_written_before_ece_load_with_nan_ece(tmp_path, result):
    old = to_table(result.rows).drop_columns(["ece"])
    pq.write_table(old, tmp_path / "old.parquet")
    loaded = load(tmp_path / "old.parquet")
    assert list(loaded.columns) == list(COLUMNS)
    assert loaded["ece"].isna().all() and len(loaded) == len(result.rows)
    assert result.rows["ece"].min() > 0 and result.rows["ece"].max() < 1


def test_load_accepts_sweep_runs_file_and_lists(tmp_path, result):
    rows = result.rows
    other = rows.assign(run_id="b" * 16, seed=1)
    write_run(tmp_path, rows["run_id"][0], rows, result.selections)
    write_run(tmp_path, "b" * 16, other, result.selections)
    other.to_parquet(tmp_path / "pandas-written.parquet")
    assert load(tmp_path / "pandas-written.parquet")["seed"].unique().tolist() == [1]
    file = run_rows_path(tmp_path, "b" * 16)
    assert len(load(tmp_path)) == len(load(tmp_path / "runs")) == 2 * len(rows)
    assert load(file)["seed"].unique().tolist() == [1]
    assert len(load([file, file])) == 2 * len(rows)
    selections = json.loads(run_selections_path(tmp_path, "b" * 16).read_text())
    assert selections["initial"] == result.selections["initial"]


def test_schema_mismatch_and_missing_results_are_one_line_errors(tmp_path, result):
    table = pa.Table.from_pandas(result.rows.assign(accuracy="high"), preserve_index=False)
    (tmp_path / "runs").mkdir()
    pq.write_table(table, tmp_path / "runs" / "bad.parquet")
    expected = r"column 'accuracy' has type (large_)?string, expected double"
    with pytest.raises(ResultsError, match=expected):
        load(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match="no results"):
        load(tmp_path / "empty")
    with pytest.raises(ResultsError, match="not a file or folder"):
        load(tmp_path / "nowhere")
    with pytest.raises(ResultsError, match="missing columns"):
        write_run(tmp_path, "c" * 16, result.rows.drop(columns=["device"]), {})


def test_interrupted_write_leaves_nothing(tmp_path, result, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(KeyboardInterrupt):
        write_run(tmp_path, "d" * 16, result.rows, result.selections)
    assert not is_finished(tmp_path, "d" * 16)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["d" * 16 + ".selections.json"]
