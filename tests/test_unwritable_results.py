"""A results folder that cannot be written is refused in one line, exit 2, before any
feature is extracted, and what it already holds is left as it was."""

from __future__ import annotations

import os

import pytest
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, small_sweep

import albench.inputs
from albench.cli import main
from albench.errors import ResultsError
from albench.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")

SWEEP = small_sweep(strategies=("random",), seeds=(0,), rounds=1)


@pytest.fixture
def no_extraction(monkeypatch):
    """Fail the test if the CLI reaches feature extraction."""

    def extract(*args, **kwargs):
        raise AssertionError("features were extracted for a sweep that cannot be saved")

    monkeypatch.setattr(albench.inputs, "extract_features", extract)


def _run(capsys, out) -> tuple[int, str]:
    argv = ["run", "--dataset", "digits", "--backbone", "tiny-clip", "--strategy", "random"]
    status = main([*argv, "--seeds", "0", "--rounds", "1", "--out", str(out)])
    return status, capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_read_only_results_folder_is_refused_and_left_as_it_was(tmp_path, capsys, no_extraction):
    out = tmp_path / "results"
    run_sweep(SWEEP, out, inputs=CountingInputs())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for folder in (out, out / "runs", out / "sweeps"):
        folder.chmod(0o500)
    try:
        status, err = _run(capsys, out)
    finally:
        for folder in (out, out / "runs", out / "sweeps"):
            folder.chmod(0o700)
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"albench: error: cannot write results to {out}: ")
    assert err.rstrip().endswith("is not writable")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_results_folder_under_a_read_only_parent_is_refused(tmp_path, capsys, no_extraction):
    tmp_path.chmod(0o500)
    try:
        status, err = _run(capsys, tmp_path / "new" / "results")
    finally:
        tmp_path.chmod(0o700)
    assert status == 2 and f"cannot write results to {tmp_path / 'new' / 'results'}" in err
    assert not (tmp_path / "new").exists()


def test_results_folder_under_a_file_is_refused(tmp_path, capsys, no_extraction):
    (tmp_path / "taken").write_text("a file, not a folder")
    status, err = _run(capsys, tmp_path / "taken" / "results")
    assert status == 2 and err.count("\n") == 1
    assert err == (
        f"albench: error: cannot write results to {tmp_path / 'taken' / 'results'}: "
        f"{tmp_path / 'taken'} is not a folder\n"
    )
    assert (tmp_path / "taken").read_text() == "a file, not a folder"


def test_run_sweep_refuses_before_asking_for_inputs(tmp_path):
    (tmp_path / "taken").write_text("")
    inputs = CountingInputs()
    with pytest.raises(ResultsError, match="is not a folder"):
        run_sweep(SWEEP, tmp_path / "taken", inputs=inputs)
    assert inputs.calls == 0


def test_unwritable_folder_message_when_permissions_say_no(
    tmp_path, capsys, monkeypatch, no_extraction
):
    """The permission check itself, also where tests run as root: the OS answer is faked."""
    out = tmp_path / "results"
    run_sweep(SWEEP, out, inputs=CountingInputs())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: path != out / "runs" and real_access(path, mode)
    )
    status, err = _run(capsys, out)
    assert status == 2
    assert err == f"albench: error: cannot write results to {out}: {out / 'runs'} is not writable\n"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
