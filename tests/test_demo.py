"""`make demo` runs one `albench run` sweep, then `albench report`: checked here on a small
configuration (tiny-clip on digits, 1 seed, 2 rounds) so the test stays fast; and the demo's
sweep file gives the very runs of its flags."""

from __future__ import annotations

from pathlib import Path

from albench import demo
from albench.cli import build_parser
from albench.commands.sweep_options import sweep_from_args
from albench.results import load

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_demo_runs_its_sweep_and_writes_both_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "DATASET", "digits")
    monkeypatch.setattr(demo, "BACKBONE", "tiny-clip")
    monkeypatch.setattr(demo, "SEEDS", "0")
    monkeypatch.setattr(demo, "ROUNDS", 2)
    monkeypatch.setattr(demo, "LEARNERS", ("linear", "zero-shot"))
    monkeypatch.setattr(demo, "STRATEGIES", ("random", "margin", "dual-prompt"))

    assert demo.main() == 0

    captured = capsys.readouterr()
    printed = captured.out.splitlines()
    html, pdf = tmp_path / "reports/demo.html", tmp_path / "reports/demo.pdf"
    assert printed[-2:] == [str(html.relative_to(tmp_path)), str(pdf.relative_to(tmp_path))]
    assert pdf.read_bytes().startswith(b"%PDF")
    rows = load(tmp_path / "results/demo")
    runs = rows.groupby(["learner", "strategy"])["round"].max()
    assert runs.to_dict() == {  # dual-prompt needs what neither learner provides
        ("linear", "margin"): 2,
        ("linear", "random"): 2,
        ("zero-shot", "margin"): 2,
        ("zero-shot", "random"): 2,
    }
    assert captured.err.count("left out: strategy 'dual-prompt'") == 2
    text = html.read_text()
    for strategy in ("random", "margin"):
        assert f">{strategy}<" in text
    # the page opens with the verdict, and the references were computed once per seed
    assert text.index("<h2>Verdict</h2>") < text.index("<h2>Notes</h2>")
    assert "digits · linear: " in text and "full data" in text
    assert len(list((tmp_path / "results/demo/references").glob("*.parquet"))) >= 2


def test_the_demo_sweep_file_gives_the_runs_of_the_demo_flags():
    parse = build_parser().parse_args
    flags = sweep_from_args(parse(demo.sweep_args()))
    file = sweep_from_args(parse(["run", f"--config={EXAMPLES / 'demo.toml'}"]))
    assert [run.run_id for run in file.runs()] == [run.run_id for run in flags.runs()]
    assert len(flags.runs()) == (5 + 6) * 3
    assert file.name == flags.name == "demo"
