"""`make gpu-check` runs its cases end to end (here on the CPU with the tiny backbone) and
refuses, in one line, a machine without a CUDA device."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from benchmarks import gpu_check
from benchmarks.selection_parity import NEAR_TIES, STRATEGIES, parity_table


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_is_refused_in_one_line(capsys):
    assert gpu_check.main(["--no-kernels"]) == 2
    assert (
        capsys.readouterr().err == "gpu-check: error: no CUDA device is visible on this machine\n"
    )


@pytest.mark.usefixtures("tiny_digits_cache")
def test_every_case_runs_and_reports_its_rounds(capsys):
    argv = ["--device=cpu", "--backbone=tiny-clip", "--no-kernels", "--selection-size=S"]
    argv.append("--views=2")
    cpu = [*argv, "--learner-option", "vpt_allow_cpu=True"]
    assert gpu_check.main([*cpu, "--cases=dual-prompt-paper,pcb,vpt"]) == 0
    assert [(row[0], row[1], row[2]) for row in printed_table(capsys)] == [
        ("dual-prompt-paper", "ok", "2"),
        ("pcb", "ok", "2"),
        ("vpt", "ok", "1"),
    ]
    # the tiny tower has 2 blocks: MaPLe's reference depth of 9 does not fit it
    assert gpu_check.main([*cpu, "--cases=maple", "--learner-option", "prompt_depth=2"]) == 0
    assert [(row[0], row[1], row[2]) for row in printed_table(capsys)] == [("maple", "ok", "1")]


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
    """The runs' table: the lines between its header and the parity table's."""
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("case")))
    parity = next(
        at for at in range(header, len(lines)) if lines[at].strip().startswith("strategy")
    )
    return [line.split() for line in lines[header + 1 : parity]]


def test_selection_parity_compares_picks_of_two_contexts():
    """The parity table of `make gpu-check`, here with the CPU named as a torch device: the
    tensor path picks what the numpy path picks, for every strategy it lists."""
    table = parity_table("cpu:0", "S")
    assert table["strategy"].tolist() == list(STRATEGIES)
    assert table["must equal"].tolist() == [name not in NEAR_TIES for name in STRATEGIES]
    assert table["picks equal"].all() and (table["picks differing"] == 0).all()
    assert (table["device"] == "cpu:0").all()
    assert (table[["cpu s", "device s"]] > 0).all(axis=None)
