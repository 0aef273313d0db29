"""Sweeps: expansion, resume, parallel determinism, interruption, and the `run` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, small_sweep, stable

from albench.cli import main
from albench.commands.sweep_options import parse_seeds
from albench.errors import InvalidSpecError
from albench.results import RUNS_DIR, read_sweeps, run_rows_path, run_selections_path
from albench.stats import sweep_summary
from albench.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")


def test_expansion_names_and_layout(tmp_path):
    sweep = small_sweep()
    assert sweep.name == "blobs-fake-linear"
    specs = sweep.runs()
    assert [(s.strategy, s.seed) for s in specs] == [
        ("random", 0),
        ("random", 1),
        ("entropy", 0),
        ("entropy", 1),
    ]
    result = run_sweep(sweep, tmp_path, inputs=CountingInputs())
    [manifest] = read_sweeps(tmp_path)
    assert manifest["run_ids"] == [s.run_id for s in specs]
    assert manifest["spec"]["strategies"] == ["random", "entropy"]
    assert len(result.rows) == 4 * 3 and len(result.computed) == 4
    for spec in specs:
        assert run_selections_path(tmp_path, spec.run_id).is_file()
    curves, aubc = sweep_summary(result.rows)
    random_runs = result.rows[result.rows["strategy"] == "random"]
    assert curves.loc[0, "accuracy"] == pytest.approx(
        random_runs[random_runs["round"] == 0]["accuracy"].mean()
    )
    assert aubc["seeds"].tolist() == [2, 2]


def test_resume_recomputes_only_the_missing_run_identically(tmp_path):
    first = run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    victim = first.rows["run_id"].iloc[-1]
    run_rows_path(tmp_path, victim).unlink()
    second = run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    assert second.computed == (victim,)
    assert len(second.skipped) == 3
    pd.testing.assert_frame_equal(stable(first.rows), stable(second.rows))


def test_jobs_do_not_change_results(tmp_path):
    one = run_sweep(small_sweep(), tmp_path / "one", jobs=1, inputs=CountingInputs())
    two = run_sweep(small_sweep(), tmp_path / "two", jobs=2, inputs=CountingInputs())
    pd.testing.assert_frame_equal(stable(one.rows), stable(two.rows))
    for run_id in one.rows["run_id"].unique():
        picks = [
            json.loads(run_selections_path(out, run_id).read_text())
            for out in (tmp_path / "one", tmp_path / "two")
        ]
        assert picks[0] == picks[1]


def test_interrupted_sweep_keeps_finished_runs_and_resumes(tmp_path):
    sweep = small_sweep()
    # 4 calls while checking sizes, then one per run: the 3rd run is interrupted
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path, inputs=CountingInputs(stop_at=4 + 3))
    files = sorted(p.name for p in (tmp_path / RUNS_DIR).iterdir())
    assert sum(name.endswith(".parquet") for name in files) == 2
    assert not [name for name in files if name.startswith(".")]
    resumed = run_sweep(sweep, tmp_path, inputs=CountingInputs())
    assert len(resumed.computed) == 2 and len(resumed.skipped) == 2
    fresh = run_sweep(sweep, tmp_path / "fresh", inputs=CountingInputs())
    pd.testing.assert_frame_equal(stable(resumed.rows), stable(fresh.rows))


def test_a_folder_holds_several_sweeps_on_one_set_of_features(tmp_path):
    first = run_sweep(small_sweep(seeds=(0,)), tmp_path, inputs=CountingInputs())
    other = run_sweep(
        small_sweep(seeds=(0, 1), strategies=("entropy", "margin")),
        tmp_path,
        inputs=CountingInputs(),
    )
    shared = set(first.rows["run_id"]) & set(other.rows["run_id"])
    assert len(shared) == 1 and shared <= set(other.skipped)  # entropy / seed 0
    assert len(other.computed) == 3
    records = read_sweeps(tmp_path)
    assert sorted(r["spec"]["strategies"] for r in records) == [
        ["entropy", "margin"],
        ["random", "entropy"],
    ]
    assert all(r["features"] == {"blobs / fake": ["features-v1"]} for r in records)
    assert len(list((tmp_path / RUNS_DIR).glob("*.parquet"))) == 2 + 3
    with pytest.raises(InvalidSpecError, match="features of blobs / fake changed"):
        run_sweep(small_sweep(seeds=(2,)), tmp_path, inputs=CountingInputs(key="features-v2"))
    assert len(read_sweeps(tmp_path)) == 2


def test_a_legacy_sweep_json_still_guards_its_features(tmp_path):
    run_sweep(small_sweep(seeds=(0,)), tmp_path, inputs=CountingInputs())
    [record] = (tmp_path / "sweeps").glob("*.json")
    record.rename(tmp_path / "sweep.json")  # the layout of folders written before records
    again = run_sweep(small_sweep(seeds=(0,)), tmp_path, inputs=CountingInputs())
    assert again.computed == () and len(again.skipped) == 2
    with pytest.raises(InvalidSpecError, match="features of blobs / fake changed"):
        run_sweep(small_sweep(seeds=(0,)), tmp_path, inputs=CountingInputs(key="features-v2"))


def test_seed_and_option_parsing():
    assert parse_seeds("0-2,5") == (0, 1, 2, 5)
    assert parse_seeds("3") == (3,)


def _cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(["run", "--dataset", "fashion-mnist-mini", "--seeds", "0", *argv])
    return status, capsys.readouterr().err


def test_cli_user_errors_exit_2_before_any_work(capsys, tmp_path):
    out = str(tmp_path / "never")
    status, err = _cli(capsys, "--strategy", "random,entropyy", "--out", out)
    assert status == 2 and "did you mean 'entropy'" in err
    status, err = _cli(capsys, "--strategy", "random", "--budget", "1/klass", "--out", out)
    assert status == 2 and "budget" in err and err.count("\n") == 1
    status, err = _cli(capsys, "--strategy", "random", "--seeds", "2-0", "--out", out)
    assert status == 2 and "seeds" in err
    status, err = _cli(capsys, "--strategy", "badge", "--learner", "lin", "--out", out)
    assert status == 2 and "did you mean 'linear'" in err
    assert not (tmp_path / "never").exists()


def test_cli_keeps_wrapper_arguments_whole():
    from albench.cli import build_parser
    from albench.commands.sweep_options import sweep_from_args

    args = build_parser().parse_args(
        ["run", "--strategy", "random, pcb(badge, candidates=4),entropy", "--dataset", "d"]
    )
    spec = sweep_from_args(args)
    assert spec.strategies == ("random", "pcb(badge, candidates=4)", "entropy")
    assert spec.seeds == (0, 1, 2, 3, 4)
    assert np.all([s.protocol.budget == "1/class" for s in spec.runs()])


def test_device_reaches_extraction_and_inputs_but_not_the_run_ids(tmp_path, monkeypatch):
    """``--device cuda:1`` encodes and loads there; results stay those of the same sweep."""
    import torch
    from runner_fakes import make_inputs

    import albench.inputs

    seen: list[tuple[str, str]] = []

    def extract(dataset, backbone, *, data_root, download, device, **copy):
        seen.append(("extract", device))

    def load(dataset, backbone, *, data_root, device, **copy):
        seen.append(("load", device))
        return make_inputs(dataset, backbone)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(albench.inputs, "extract_features", extract)
    monkeypatch.setattr(albench.inputs, "load_inputs", load)
    monkeypatch.setattr("albench.sweep.check_names", lambda sweep: None)  # blobs / fake
    on_gpu = small_sweep(seeds=(0,), device="cuda:1")
    result = run_sweep(on_gpu, tmp_path / "out")
    assert set(seen) == {("extract", "cuda:1"), ("load", "cuda:1")}
    assert [spec.run_id for spec in on_gpu.runs()] == [
        spec.run_id for spec in small_sweep(seeds=(0,)).runs()
    ]
    assert on_gpu.identity() == small_sweep(seeds=(0,)).identity()
    assert len(result.computed) == 2
