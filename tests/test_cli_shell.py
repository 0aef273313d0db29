"""The shell as an interface: complete listings, one-line errors before torch, nothing left
behind, help for every flag, and sweep files that flags override."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import albench
from albench.cli import build_parser, main
from albench.commands.datasets import COLUMNS
from albench.commands.sweep_options import sweep_from_args
from albench.learners import learner_names
from albench.strategies.registry import REGISTRY, load_plugins

HEAVY = ("torch", "open_clip", "sklearn", "pandas")
#: the checkout under test, put first on a child interpreter's path
ROOT = str(Path(albench.__file__).resolve().parents[1])
PYTHONPATH = os.environ.get("PYTHONPATH", "")


def _out(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_a_piped_dataset_table_is_complete(capsys):
    from albench.data.spec import load_specs

    title, *lines = _out(capsys, "datasets").splitlines()
    assert title.startswith("albench datasets (data root ")
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header == [column.replace("_", " ") for column in COLUMNS]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]
    assert sorted(row[0] for row in rows) == sorted(load_specs())
    assert all(len(header) - 1 <= len(row) <= len(header) for row in rows)  # problem: often ""
    assert "…" not in "".join(lines) and "fashion-mnist-mini" in {row[0] for row in rows}


def test_strategies_as_json_list_every_registered_strategy_with_its_options(capsys):
    load_plugins()
    records = json.loads(_out(capsys, "strategies", "--format", "json"))
    assert [r["name"] for r in records] == REGISTRY.names()
    pcb = next(r for r in records if r["name"] == "pcb")
    assert pcb["wraps"] is True and pcb["options"] == {"candidates": None, "pool_fraction": None}
    assert {"name", "category", "needs", "reference", "origin"} <= set(pcb)


def test_learners_as_csv_have_one_row_per_option_with_its_default_and_help(capsys):
    rows = list(csv.DictReader(io.StringIO(_out(capsys, "learners", "--format", "csv"))))
    assert sorted({row["learner"] for row in rows}) == learner_names()
    steps = next(r for r in rows if r["learner"] == "coop" and r["option"] == "steps")
    assert (steps["default"], steps["expects"]) == ("200", "whole number >= 1")
    assert all(row["help"] for row in rows)
    dual = {row["provides"] for row in rows if row["learner"] == "dual-prompt"}
    assert dual == {"correctness_prob, embed, grad_embedding, probabilities"}


def test_backbones_as_json(capsys):
    records = json.loads(_out(capsys, "backbones", "--format", "json"))
    tiny = next(r for r in records if r["name"] == "tiny-clip")
    assert tiny["embed_dim"] == 64 and tiny["available_offline"] is True


def _run_in_fresh_process(tmp_path: Path, *argv: str) -> tuple[int, str, list[str]]:
    """`albench run ARGV` in a new interpreter, importing the albench under test (not an
    installed copy): exit status, stderr, heavy modules loaded."""
    code = (
        "import sys\nfrom albench.cli import main\nstatus = main(sys.argv[1:])\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(loaded), file=sys.stdout)\nsys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "run", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (ROOT, PYTHONPATH)))},
    )
    return done.returncode, done.stderr, [m for m in done.stdout.strip().split(",") if m]


BAD_VALUES = [
    (["--strategy", "random,entropyy"], "did you mean 'entropy'"),
    (["--strategy", "random", "--learner", "lineaar"], "did you mean 'linear'"),
    (["--strategy", "random", "--dataset", "digitz"], "did you mean 'digits'"),
    (["--strategy", "random", "--backbone", "tiny-clipp"], "did you mean 'tiny-clip'"),
    (["--strategy", "random", "--learner-option", "weight_decay=1e-4x"], "weight_decay="),
    (["--strategy", "random", "--learner-option", "steps=5"], "no learner of this sweep"),
    (["--strategy", "random", "--learner", "coop(steps=0)"], "steps=0: expected"),
    (["--strategy", "pcb(badge, candidates=x)"], "candidates"),
    (["--strategy", "typiclust(neighbours=2.5)"], "neighbours=2.5"),
    (["--strategy", "random", "--budget", "1/klass"], "k/class"),
    (["--strategy", "random", "--initial", "kmeans"], "unknown initial policy"),
    (["--strategy", "random", "--seeds", "4-1"], "bad seeds"),
    (["--strategy", "random", "--scenario", "noisy-orcle(rate=0.1)"], "'noisy-oracle'"),
    (["--strategy", "random", "--scenario", "none,long-tail(imbalance=0.5)"], "imbalance=0.5"),
    (["--strategy", "random", "--scenario", "open-set(ratio=0.2)+"], "joins two scenarios"),
    (["--strategy", "random", "--protocol", "pbc"], "did you mean 'pcb'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_VALUES)
def test_a_bad_value_is_one_line_exit_2_before_torch_and_leaves_the_folder_as_it_was(
    tmp_path, argv, message
):
    out = tmp_path / "results"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "kept.parquet").write_bytes(b"finished run")
    before = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    argv = ["--dataset", "digits", "--backbone", "tiny-clip", *argv, "--out", str(out)]
    status, err, loaded = _run_in_fresh_process(tmp_path, *argv)
    assert status == 2 and err.count("\n") == 1 and err.startswith("albench: error: ")
    assert message in err
    assert loaded == []
    after = sorted((p.relative_to(out), p.read_bytes()) for p in out.rglob("*") if p.is_file())
    assert after == before and not (out / "sweeps").exists()


def test_every_flag_of_every_command_has_help():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"albench {name} {action.option_strings} has no help"


def _sweep_of(tmp_path: Path, text: str, *flags: str):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return sweep_from_args(build_parser().parse_args(["run", f"--config={path}", *flags]))


SWEEP_FILE = """
datasets = ["digits"]
learners = ["linear", "coop(steps=5)"]
strategies = "random,pcb(badge, candidates=8)"
seeds = [0, 2]
learner_options = { warm_start = true }
[protocol]
rounds = 3
budget = "2/class"
"""


def test_a_sweep_file_gives_the_fields_and_flags_override_them(tmp_path):
    sweep = _sweep_of(tmp_path, SWEEP_FILE)
    assert sweep.strategies == ("random", "pcb(badge, candidates=8)")
    assert sweep.seeds == (0, 2) and sweep.backbones == ("offline-effnet-minilm",)
    assert (sweep.protocol.rounds, sweep.protocol.budget) == (3, "2/class")
    assert sweep.learner_specs() == [
        ("linear", {"warm_start": True}),
        ("coop", {"warm_start": True, "steps": 5}),
    ]
    flagged = _sweep_of(tmp_path, SWEEP_FILE, "--rounds=5", "--seeds=1", "--learner=linear")
    assert (flagged.protocol.rounds, flagged.protocol.budget) == (5, "2/class")
    assert flagged.seeds == (1,) and flagged.learners == ("linear",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets = [", "not valid TOML"),
        ('dataset = ["digits"]', "unknown key 'dataset'"),
        ('datasets = ["digits"]\n[protocol]\nround = 3', r"\[protocol\] takes"),
        ('datasets = ["digits"]\nstrategies = [1]', "list of strings"),
    ],
)
def test_bad_sweep_files_are_one_line_errors(tmp_path, capsys, text, message):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    assert main(["run", f"--config={path}", "--strategy=random", "--out=/nonexistent/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)


def test_a_missing_required_list_names_its_flag(capsys):
    assert main(["run", "--dataset=digits"]) == 2
    assert "--strategy is required" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_digits_cache")
def test_a_linear_probe_and_a_prompt_learner_with_its_options_run_as_one_sweep(tmp_path, capsys):
    from albench.results import expand_hyperparameters, load, read_sweeps

    out = tmp_path / "results"
    argv = ["run", "--dataset=digits", "--backbone=tiny-clip", "--seeds=0", "--rounds=1"]
    learners = "--learner=linear,dual-prompt(steps=2, init='a photo of a')"
    assert main([*argv, learners, "--strategy=random,entropy", f"--out={out}"]) == 0
    rows = expand_hyperparameters(load(out))
    assert sorted({(r.learner, r.strategy) for r in rows.itertuples()}) == [
        ("dual-prompt", "entropy"),
        ("dual-prompt", "random"),
        ("linear", "entropy"),
        ("linear", "random"),
    ]
    prompt = rows[rows["learner"] == "dual-prompt"]
    assert (prompt["hp.steps"] == 2).all() and (prompt["hp.init"] == "a photo of a").all()
    [record] = read_sweeps(out)
    assert len(record["run_ids"]) == 4
    # the old flag form names the same runs: nothing is recomputed
    old = [
        "--learner=dual-prompt",
        "--learner-option=steps=2",
        "--learner-option=init=a photo of a",
    ]
    assert main([*argv, *old, "--strategy=random,entropy", f"--out={out}"]) == 0
    assert "0 runs computed, 2 already done" in capsys.readouterr().out


def test_the_fast_name_check_knows_every_path_dataset_form():
    from albench.checks import PATH_PREFIXES
    from albench.data.registry import PATH_DATASETS

    assert set(PATH_PREFIXES) == set(PATH_DATASETS)


def test_a_reader_that_stops_early_gets_no_traceback():
    command = f"{sys.executable} -m albench learners --format csv | head -n 1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
    assert done.stdout.startswith("learner,paradigm,provides,option")
    assert done.stderr == ""
