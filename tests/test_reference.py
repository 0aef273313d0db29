"""Full-data and zero-shot references: specs, one computation per key, the report's use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from runner_fakes import make_inputs, one_thread  # noqa: F401
from test_report import synthetic_results

from albench import reference, results
from albench.report import build_report

SPEC = {
    "datasets": ["blobs"], "backbones": ["fake"], "learners": ["linear"],
    "strategies": ["random", "entropy"], "seeds": [0, 1], "rounds": 3, "budget": "1/class",
    "initial": "random", "initial_size": "1/class", "pseudo_labels": False,
    "pool_subsample": None, "learner_options": {"weight_decay": 0.001}, "name": "t",
}  # fmt: skip
PROTOCOL = ("rounds", "budget", "initial", "initial_size", "pseudo_labels", "pool_subsample")


def test_reference_specs_read_records_with_a_protocol_and_inline_learner_options():
    nested = {key: value for key, value in SPEC.items() if key not in PROTOCOL}
    nested.update(
        protocol={key: SPEC[key] for key in PROTOCOL},
        learners=["linear", "coop(steps=5)"],
        learner_options={"warm_start": True},
    )
    specs = reference.reference_specs(nested, {"blobs": 120})["full data"]
    assert [(s.learner, s.learner_options) for s in specs[:2]] == [
        ("linear", {"warm_start": True}),
        ("coop", {"warm_start": True, "steps": 5}),
    ]
    flat = reference.reference_specs(SPEC, {"blobs": 120})["zero-shot"]
    assert [s.run_id for s in reference.reference_specs(nested, {"blobs": 120})["zero-shot"]] == [
        s.run_id for s in flat
    ]


def test_reference_specs_label_every_pool_image_once():
    specs = reference.reference_specs(SPEC, {"blobs": 120})
    full, zero = specs["full data"], specs["zero-shot"]
    assert [s.seed for s in full] == [0, 1] and [s.seed for s in zero] == [0, 1]
    protocols = {(s.protocol.initial_size, s.protocol.rounds, s.protocol.budget) for s in full}
    assert protocols == {("119", 1, "1")}
    assert full[0].learner_options == {"weight_decay": 0.001}
    assert {s.learner for s in zero} == {"zero-shot"}
    assert reference.reference_specs(SPEC, {}) == {"full data": [], "zero-shot": []}


def test_references_are_computed_once_and_labelled_on_the_whole_pool(tmp_path):
    inputs = make_inputs()
    specs = reference.reference_specs(SPEC, {"blobs": 120})["full data"][:1]
    (written,) = reference.ensure(tmp_path, specs, inputs)
    stamp = written.stat().st_mtime_ns
    rows = results.load(written)
    assert rows["n_labelled"].iloc[-1] == 120 and rows["round"].iloc[-1] == 1
    assert reference.ensure(tmp_path, specs, inputs) == [written]
    assert written.stat().st_mtime_ns == stamp  # found, not recomputed


def test_report_draws_references_and_counts_labels_to_full_data():
    frame = synthetic_results(("d",), ("random", "good"), (0, 1, 2), step=0.03)
    keys = frame.drop_duplicates("seed")[["dataset", "backbone", "learner", "hyperparameters",
                                          "pool_size", "test_size", "seed"]]  # fmt: skip
    full = keys.assign(kind="full data", accuracy=0.84)
    zero = keys.assign(kind="zero-shot", learner="zero-shot", hyperparameters="{}", accuracy=0.3)
    report = build_report(frame, references=pd.concat([full, zero]))
    table = next(t for t in report.tables() if t.title == "Label efficiency")
    good = table.frame[table.frame["strategy"] == "good"].iloc[0]
    # hand computation for each seed: first crossing of 0.9 * 0.84 = 0.756, interpolated
    needed = []
    for _, run in frame[frame["strategy"] == "good"].groupby("seed"):
        x, y = run["n_labelled"].to_numpy(), run["accuracy"].to_numpy()
        i = int(np.argmax(y >= 0.756))
        needed.append(x[i - 1] + (0.756 - y[i - 1]) / (y[i] - y[i - 1]) * (x[i] - x[i - 1]))
    assert good["labels to 90% of full data"].startswith(f"{np.mean(needed):.0f} ± ")
    assert good["labels to 95% of full data"] == "not reached"
    figure = next(f.figure for f in report.figures() if f.title == "Learning curves")
    labels = [text.get_text() for text in figure.axes[0].texts]
    assert labels == ["full data 84.0", "zero-shot 30.0"]


@pytest.fixture
def sweep_cli(tmp_path, monkeypatch):
    """The CLI with only the report command, and a recorded sweep folder under tmp_path."""
    from albench import cli

    monkeypatch.setattr(cli, "COMMANDS", ("report",))
    frame = synthetic_results(("d",), ("random", "good"), (0, 1))
    (tmp_path / "s" / "runs").mkdir(parents=True)
    frame.to_parquet(tmp_path / "s" / "runs" / "all.parquet")
    results.write_sweep(tmp_path / "s", SPEC | {"datasets": ["d"]}, list(frame["run_id"]), {})
    return cli


@pytest.mark.parametrize("flag", [True, False])
def test_report_cli_computes_references_unless_told_not_to(sweep_cli, tmp_path, monkeypatch, flag):
    from albench.report import reproduce

    computed = []
    monkeypatch.setattr(reference, "ensure", lambda folder, specs: computed.extend(specs) or [])
    args = ["report", str(tmp_path), "--out", str(tmp_path / "r.html")]
    assert sweep_cli.main(args + (["--no-full-data"] if flag else [])) == 0
    assert len(computed) == (0 if flag else 4)  # 2 seeds x (full data, zero-shot)
    assert reproduce.FLAGS["strategies"] in (tmp_path / "r.html").read_text()


def test_a_reference_that_cannot_run_is_one_line_with_the_way_out(
    sweep_cli, tmp_path, monkeypatch, capsys
):
    from albench.errors import FeatureError

    def missing(folder, specs):
        raise FeatureError("no cached features for d / fake")

    monkeypatch.setattr(reference, "ensure", missing)
    assert sweep_cli.main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--no-full-data skips them" in error
    assert not (tmp_path / "r.html").exists()
