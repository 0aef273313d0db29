"""Protocol presets: every value sourced, flags over presets, the preset in the run's record."""

from __future__ import annotations

import argparse
import json

import pytest

from albench.cli import main
from albench.commands.sweep_options import build_sweep, parse_list, with_preset
from albench.errors import InvalidSpecError, UnknownNameError
from albench.presets import get_preset, load_presets, parse_preset
from albench.protocol import Protocol
from albench.specs import RunSpec

PRESETS = ("dual-prompt-paper", "fast-cpu", "pcb")


def test_the_three_presets_set_only_sourced_values():
    presets = load_presets()
    assert tuple(sorted(presets)) == PRESETS
    for preset in presets.values():
        assert set(preset.values()) == set(preset.sources)
        assert all(source.strip() for source in preset.sources.values())
        assert preset.missing and preset.reference


def test_a_value_without_a_source_is_refused():
    data = {"name": "x", "learner": "coop", "backbone": "tiny-clip", "protocol": {"rounds": 3}}
    sources = {"learner": "a", "backbone": "b"}
    with pytest.raises(InvalidSpecError, match=r"protocol\.rounds has no source"):
        parse_preset({**data, "sources": sources}, "preset file 'x.toml'")
    parse_preset({**data, "sources": {**sources, "protocol.rounds": "c"}}, "x")


def test_guesses_are_named_as_such():
    paper = get_preset("dual-prompt-paper")
    assert "protocol.rounds" in paper.guesses() and "learner_options.lr" not in paper.guesses()
    assert get_preset("pcb").guesses() == ["backbone"]


def test_an_unknown_preset_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean 'pcb'"):
        get_preset("pbc")


def fields(**given) -> dict:
    base = {"datasets": ("digits",), "strategies": ("random",), "seeds": (0,)}
    return {**base, **given}


def test_a_preset_fills_what_flags_leave_out_and_flags_override_it():
    sweep = build_sweep(fields(preset="pcb", protocol={"rounds": 1}))
    assert (
        sweep.backbones == ("ViT-B-32:openai",) and sweep.name == "digits-ViT-B-32_openai-coop-pcb"
    )
    assert sweep.protocol == Protocol(rounds=1, preset="pcb", views=8)
    [run] = sweep.runs()
    assert run.learner_options["class_specific"] is True and run.learner_options["epochs"] == 200
    given = fields(
        preset="pcb",
        backbones=("tiny-clip",),
        learners=parse_list("linear,coop(epochs=2)", "learners"),
        learner_options={"lr": 0.01, "warm_start": True},
    )
    linear, coop = build_sweep(given).learner_specs()
    assert linear == ("linear", {"warm_start": True})  # none of the preset's coop options
    assert coop[1]["epochs"] == 2 and coop[1]["lr"] == 0.01 and coop[1]["n_ctx"] == 16
    assert coop[1]["class_specific"] is True


def test_the_preset_is_part_of_the_run_id_and_absent_without_one():
    plain = RunSpec("digits", "tiny-clip", "coop", "random", 0)
    preset = RunSpec("digits", "tiny-clip", "coop", "random", 0, Protocol(preset="pcb"))
    assert "preset" not in plain.identity() and preset.identity()["preset"] == "pcb"
    assert plain.run_id != preset.run_id
    assert build_sweep(fields()).identity()["protocol"] == Protocol().identity()


def test_with_preset_keeps_the_sweep_files_own_protocol_values():
    merged = with_preset(fields(protocol={"budget": "2/class"}), get_preset("fast-cpu"))
    assert merged["protocol"]["budget"] == "2/class" and merged["protocol"]["rounds"] == 8
    assert merged["learners"] == (
        "dual-prompt(batch_size=128, init='a photo of a', lr=0.01, optimizer='adamw', steps=10)",
    )


def test_albench_protocols_lists_every_value_with_its_source(capsys):
    assert main(["protocols", "--format", "json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert tuple(sorted(records)) == PRESETS
    pcb = {v["setting"]: v for v in records["pcb"]["values"]}
    assert pcb["learner_options.class_specific"]["value"] is True
    assert "CSC=True" in pcb["learner_options.class_specific"]["source"]
    assert main(["protocols", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "preset,setting,value,source" and len(lines) > 30


@pytest.mark.usefixtures("tiny_digits_cache")
def test_run_with_the_pcb_preset_records_it(tmp_path, capsys):
    out = tmp_path / "results"
    argv = [
        "run",
        "--protocol=pcb",
        "--dataset=digits",
        "--backbone=tiny-clip",
        "--strategy=random,pcb(badge)",
        "--seeds=0",
        "--rounds=1",
        "--learner-option=epochs=2",
        "--views=2",  # the preset's 8 views cost 7 encoder passes over the pool
        f"--out={out}",
    ]
    assert main(argv) == 0
    records = [json.loads(p.read_text()) for p in (out / "runs").glob("*.selections.json")]
    assert len(records) == 2
    for record in records:
        spec = record["spec"]
        assert spec["preset"] == "pcb" and spec["rounds"] == 1 and spec["budget"] == "1/class"
        assert spec["learner_options"]["class_specific"] is True
        assert spec["learner_options"]["epochs"] == 2 and spec["views"] == 2
    [sweep] = [json.loads(p.read_text()) for p in (out / "sweeps").glob("*.json")]
    assert sweep["spec"]["protocol"]["preset"] == "pcb"


def test_the_protocol_flag_is_documented():
    from albench.cli import build_parser

    parser = build_parser()
    run = next(
        action.choices["run"]
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert any("--protocol" in action.option_strings for action in run._actions)


def preset_table(name: str) -> str:
    """The Markdown table of a preset's values and sources, as docs/protocol.md shows it."""
    preset = get_preset(name)
    lines = ["| setting | value | source |", "| --- | --- | --- |"]
    for key, value in preset.values().items():
        shown = json.dumps(value) if not isinstance(value, str) else f"`{value}`"
        lines.append(f"| `{key}` | {shown} | {preset.sources[key]} |")
    return "\n".join(lines)


@pytest.mark.parametrize("name", PRESETS)
def test_docs_show_every_value_of_every_preset_with_its_source(name):
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
    assert preset_table(name) in docs
