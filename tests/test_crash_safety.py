"""Crash safety: a sweep killed at any moment (SIGKILL), interrupted (Ctrl-C, SIGTERM) or
left with the debris of a killed write resumes into exactly the uninterrupted results.

The process tests run the real CLI in child processes (``cli_children``) on the small
tiny-clip / digits configuration with the zero-shot learner (no training: the runs' time is
the strategy's), and a file-plugin strategy that pauses in each selection so that a kill
lands in the middle of a run.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from cli_children import PAUSING, finish, start, sweep_argv, wait_until
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, small_sweep, stable

from albench.claims import claim_path, remove_orphans, try_claim
from albench.cli import main
from albench.results import RUNS_DIR, load, run_rows_path, run_selections_path
from albench.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")

N_RUNS = 6  # 2 strategies x 3 seeds


def _argv(out: Path) -> list[str]:
    return sweep_argv(f"{PAUSING},random", out)


def _finished(out: Path) -> list[Path]:
    return sorted((out / RUNS_DIR).glob("*.parquet"))


def _debris(out: Path) -> list[str]:
    """Everything under ``out`` that is neither a result nor a sweep record."""
    return sorted(p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".claim")))


def _check_visible_results(out: Path) -> None:
    """Whatever a kill left behind reads back whole: complete runs, each with selections."""
    finished = _finished(out)
    if finished:
        rows = load(out)
        assert rows.groupby("run_id")["round"].apply(lambda run: sorted(run) == [0, 1, 2]).all()
        assert set(rows["run_id"]) == {path.name.split(".")[0] for path in finished}
    for path in finished:
        assert run_selections_path(out, path.name.split(".")[0]).is_file()


def _selections(out: Path) -> dict[str, dict]:
    return {
        path.name: json.loads(path.read_text())
        for path in (out / RUNS_DIR).glob("*.selections.json")
    }


def test_sigkill_at_several_points_then_rerun_equals_an_uninterrupted_sweep(
    tmp_path, tiny_digits_cache, capsys
):
    out, markers = tmp_path / "killed", tmp_path / "markers"
    markers.mkdir()
    env = {"ALBENCH_TEST_MARKERS": str(markers), "ALBENCH_TEST_PAUSE": "0.3"}

    # 1. right after the first result file appears
    child = start(_argv(out), tmp_path / "1.log", env)
    wait_until(lambda: len(_finished(out)) >= 1, child)
    child.kill()
    assert finish(child) == -signal.SIGKILL
    _check_visible_results(out)

    # 2. in the middle of a run: a selection has started since the restart
    before = len(list(markers.iterdir()))
    child = start(_argv(out), tmp_path / "2.log", env)
    wait_until(lambda: len(list(markers.iterdir())) > before, child)
    child.kill()
    assert finish(child) == -signal.SIGKILL
    _check_visible_results(out)

    # 3. during start-up, before any run
    child = start(_argv(out), tmp_path / "3.log", env)
    child.kill()
    assert finish(child) == -signal.SIGKILL
    _check_visible_results(out)

    done_before = len(_finished(out))
    assert 1 <= done_before < N_RUNS
    capsys.readouterr()
    assert main(_argv(out)) == 0  # the killed claims block nothing
    summary = capsys.readouterr().out
    assert f"{N_RUNS - done_before} runs computed, {done_before} already done" in summary

    assert main(_argv(tmp_path / "reference")) == 0
    resumed, reference = load(out), load(tmp_path / "reference")
    assert len(resumed) == N_RUNS * 3
    pd.testing.assert_frame_equal(stable(resumed), stable(reference))
    assert _selections(out) == _selections(tmp_path / "reference")
    assert _debris(out) == []


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupt_stops_with_one_line_saying_how_to_resume(
    tmp_path, tiny_digits_cache, capsys, how
):
    out = tmp_path / "out"
    env = {"ALBENCH_TEST_PAUSE": "0.5"}  # the signal lands well before the sweep ends
    child = start(_argv(out), tmp_path / "child.log", env)
    wait_until(lambda: len(_finished(out)) >= 1, child)
    if how == "ctrl-c":
        os.killpg(child.pid, signal.SIGINT)  # what a terminal sends: the whole group
    else:
        os.kill(child.pid, signal.SIGTERM)
    assert finish(child) == 130
    log = (tmp_path / "child.log").read_text()
    assert "Traceback" not in log
    [line] = [line for line in log.splitlines() if line.startswith("albench:")]
    done = len(_finished(out))
    assert line == (
        f"albench: interrupted; {done} of {N_RUNS} runs are finished in {out}; "
        "rerun the same albench run command to finish the rest"
    )
    assert [name for name in _debris(out) if name.endswith(".tmp")] == []

    capsys.readouterr()
    assert main(_argv(out)) == 0
    assert f"{N_RUNS - done} runs computed, {done} already done" in capsys.readouterr().out
    assert len(_finished(out)) == N_RUNS


def test_debris_of_a_killed_write_is_cleared_and_the_run_redone(tmp_path):
    """What SIGKILL inside a write leaves: a hidden partial file, selections without rows
    (written first), a claim file; none of it is visible, and a rerun replaces it."""
    first = run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    victim = first.rows["run_id"].iloc[0]
    rows = run_rows_path(tmp_path, victim)
    partial = rows.with_name(f".{rows.name}.x1y2z3.tmp")
    rows.rename(partial)
    partial.write_bytes(partial.read_bytes()[:100])  # cut mid-file
    claim_path(tmp_path, victim).touch()
    assert set(load(tmp_path)["run_id"]) == set(first.rows["run_id"]) - {victim}

    again = run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    assert again.computed == (victim,)
    pd.testing.assert_frame_equal(stable(again.rows), stable(first.rows))
    assert _debris(tmp_path) == []


def test_temporary_files_of_a_live_claim_are_left_alone(tmp_path):
    run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    other = "0123456789abcdef"  # a run another live process is writing
    partial = tmp_path / RUNS_DIR / f".{other}.parquet.k3j4.tmp"
    partial.write_bytes(b"PAR1 half")
    claim = try_claim(tmp_path, other)
    assert claim is not None
    again = run_sweep(small_sweep(), tmp_path, inputs=CountingInputs())
    remove_orphans(tmp_path)
    assert partial.is_file() and again.computed == ()
    claim.release(finished=False)
    remove_orphans(tmp_path)
    assert not partial.exists()
    assert claim_path(tmp_path, other).is_file()  # an unfinished run keeps its (free) claim file


def test_worker_processes_started_by_a_backend_ignore_ctrl_c():
    """Ctrl-C at a terminal reaches the whole process group: local workers (loky, Dask) are
    started so that they ignore it, and only the driver reports the interrupt."""
    import signal
    import subprocess
    import sys

    from albench.backends import _workers_ignore_ctrl_c

    code = "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"
    probe = [sys.executable, "-c", code]
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when started as `cmd &`
    with _workers_ignore_ctrl_c():
        inside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    outside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert (inside.strip(), outside.strip()) == ("True", str(before == signal.SIG_IGN))
    assert signal.getsignal(signal.SIGINT) is before  # the driver's own handler is back
