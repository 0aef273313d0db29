"""`make gpu-check` runs its cases end to end (here on the CPU with the tiny backbone) and
refuses, in one line, a machine without a CUDA device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import pandas as pd
import pytest
import torch

from benchmarks import gpu_check, gpu_wheels, render
from benchmarks.selection_parity import NEAR_TIES, STRATEGIES, parity_table


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_is_refused_in_one_line(capsys):
    assert gpu_check.main(["--no-kernels"]) == 2
    assert (
        capsys.readouterr().err == "gpu-check: error: no CUDA device is visible on this machine\n"
    )


def test_a_python_without_a_needed_package_is_refused_in_one_line(monkeypatch, capsys):
    """Checked before anything heavy is imported: one line names what to install."""
    monkeypatch.setitem(gpu_check.NEEDED, "albench_no_such_module", "no-such-dist")
    assert gpu_check.main(["--device=cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpu-check: error: this Python lacks no-such-dist; install them")
    assert "make gpu-wheels" in err and err.count("\n") == 1


@pytest.mark.usefixtures("tiny_digits_cache")
def test_every_case_runs_and_reports_its_rounds(capsys, tmp_path):
    argv = ["--device=cpu", "--backbone=tiny-clip", "--no-kernels", "--selection-size=S"]
    argv += ["--views=2", f"--out={tmp_path}"]
    cpu = [*argv, "--learner-option", "vpt_allow_cpu=True"]
    assert gpu_check.main([*cpu, "--cases=dual-prompt-paper,pcb,vpt"]) == 0
    expected = [("dual-prompt-paper", "ok", 2), ("pcb", "ok", 2), ("vpt", "ok", 1)]
    assert [(row[0], row[1], int(row[2])) for row in printed_table(capsys)] == expected
    # the tables are written as each section ends: read back, the same rows
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(zip(runs["case"], runs["status"], runs["runs"], strict=True)) == expected
    assert runs.columns.tolist() == gpu_check.RUN_COLUMNS
    parity = pd.read_csv(tmp_path / "parity.csv")
    assert parity["strategy"].tolist() == list(STRATEGIES) and parity["picks equal"].all()
    # the tiny tower has 2 blocks: MaPLe's reference depth of 9 does not fit it
    assert gpu_check.main([*cpu, "--cases=maple", "--learner-option", "prompt_depth=2"]) == 0
    assert [(row[0], row[1], row[2]) for row in printed_table(capsys)] == [("maple", "ok", "1")]
    assert pd.read_csv(tmp_path / "runs.csv")["case"].tolist() == ["maple"]


@pytest.mark.parametrize(("differs", "status"), [("max-herding", 0), ("margin", 1)])
def test_only_picks_that_must_be_equal_fail_the_check(monkeypatch, differs, status):
    """A herding near-tie is reported; any other pick that differs fails the check."""

    def table(device: str, size_name: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "strategy": ["margin", "max-herding"],
                "must equal": [True, False],
                "picks equal": [differs != "margin", differs != "max-herding"],
            }
        )

    monkeypatch.setattr(gpu_check, "parity_table", table)
    argv = ["--device=cpu", "--backbone=tiny-clip", "--no-kernels", "--cases=none"]
    assert gpu_check.main(argv) == status


def printed_table(capsys) -> list[list[str]]:
    """The runs' table: the lines between its header and the next section's."""
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("case")))
    done = next(at for at in range(header, len(lines)) if lines[at].startswith("["))
    return [line.split() for line in lines[header + 1 : done]]


def test_the_wheels_are_the_installed_versions_as_pure_python(monkeypatch, tmp_path, capsys):
    """`make gpu-wheels` asks pip for exactly the versions installed here, pure-Python
    wheels only (a GPU machine may be another platform); a failed download is one line."""
    asked: list[list[str]] = []

    def pip(command, check):
        asked.append(command)
        return subprocess.CompletedProcess(command, 1 if len(asked) > 1 else 0)

    monkeypatch.setattr(gpu_wheels.subprocess, "run", pip)
    assert gpu_wheels.main([str(tmp_path)]) == 0
    (command,) = asked
    assert command[-4:] == [f"{name}=={version(name)}" for name in gpu_wheels.WHEELS]
    assert {"--no-deps", "--only-binary=:all:", "--platform=any", "--implementation=py"} <= set(
        command
    )
    assert command[command.index("--dest") + 1] == str(tmp_path)
    assert gpu_wheels.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("gpu-wheels: error: pip could not download")
    assert gpu_wheels.main([]) == 2


def test_selection_parity_compares_picks_of_two_contexts():
    """The parity table of `make gpu-check`, here with the CPU named as a torch device: the
    tensor path picks what the numpy path picks, for every strategy it lists."""
    table = parity_table("cpu:0", "S")
    assert table["strategy"].tolist() == list(STRATEGIES)
    assert table["must equal"].tolist() == [name not in NEAR_TIES for name in STRATEGIES]
    assert table["picks equal"].all() and (table["picks differing"] == 0).all()
    assert (table["device"] == "cpu:0").all()
    assert (table[["cpu s", "device s"]] > 0).all(axis=None)


#: runs benchmarks/test_cuda.py with the CPU standing in for CUDA: ``.cuda()`` keeps a
#: tensor where it is, "cuda" contexts compute on ``cpu:0``, synchronising does nothing
CPU_FOR_CUDA = """
import sys, torch
torch.cuda.is_available = lambda: True
torch.cuda.synchronize = lambda *args, **options: None
torch.cuda.get_device_name = lambda *args, **options: "cpu standing in"
torch.Tensor.cuda = lambda self, *args, **options: self
import albench.kernels._tensor as tensors
to_device = tensors.to_device
tensors.to_device = lambda a, device: to_device(a, "cpu:0" if device.startswith("cuda") else device)
import pytest
sys.exit(pytest.main(["benchmarks/test_cuda.py", "--benchmark-only", "-p", "no:cacheprovider",
                      "-o", "addopts=", "-q", "--benchmark-json=" + sys.argv[1]]))
"""


def test_the_cuda_benchmarks_run_end_to_end_with_the_cpu_standing_in(tmp_path):
    """benchmarks/test_cuda.py only runs on a GPU, inside `make gpu-check`: here its cases
    run at size S on the CPU, so a broken case shows before a GPU's time is spent on it;
    its file renders into the GPU sections of docs/benchmarks.md."""
    out = tmp_path / "kernels.json"
    env = {**os.environ, "ALBENCH_BENCH_SIZES": "S"}
    command = [sys.executable, "-c", CPU_FOR_CUDA, str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    cases = json.loads(out.read_text())["benchmarks"]
    assert sorted((c["extra_info"]["kind"], c["extra_info"]["impl"]) for c in cases) == [
        ("badge", "albench-inverse-cdf"),
        ("badge", "albench-rejection"),
        ("entropy-outputs", "albench-device"),
        ("entropy-outputs", "albench-host"),
        ("k-center", "albench-lazy"),
        ("k-center", "albench-plain"),
    ]
    assert {c["extra_info"]["device"] for c in cases} == {"cuda"}
    page = tmp_path / "benchmarks.md"
    assert render.main([str(out), str(page)]) == 0
    assert "## Selection on a GPU run: the learner's outputs on the device" in page.read_text()
