"""`make demo` runs `albench run` for each demo sweep, then `albench report`: checked here on
a small configuration (tiny-clip on digits, 1 seed, 2 rounds) so the test stays fast."""

from __future__ import annotations

from albench import demo
from albench.results import load


def test_demo_runs_its_sweeps_and_writes_both_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "DATASET", "digits")
    monkeypatch.setattr(demo, "BACKBONE", "tiny-clip")
    monkeypatch.setattr(demo, "SEEDS", "0")
    monkeypatch.setattr(demo, "ROUNDS", 2)
    monkeypatch.setattr(
        demo, "SWEEPS", (("linear", "random,margin", ()), ("zero-shot", "entropy", ()))
    )

    assert demo.main() == 0

    printed = capsys.readouterr().out.splitlines()
    html, pdf = tmp_path / "reports/demo.html", tmp_path / "reports/demo.pdf"
    assert printed[-2:] == [str(html.relative_to(tmp_path)), str(pdf.relative_to(tmp_path))]
    assert pdf.read_bytes().startswith(b"%PDF")
    rows = load([tmp_path / "results/demo/linear", tmp_path / "results/demo/zero-shot"])
    runs = rows.groupby(["learner", "strategy"])["round"].max()
    assert runs.to_dict() == {
        ("linear", "margin"): 2,
        ("linear", "random"): 2,
        ("zero-shot", "entropy"): 2,
    }
    text = html.read_text()
    for strategy in ("random", "margin", "entropy"):
        assert f">{strategy}<" in text
    # the page opens with the verdict, and the references were computed once per seed
    assert text.index("<h2>Verdict</h2>") < text.index("<h2>Notes</h2>")
    assert "digits · linear: " in text and "full data" in text
    assert len(list((tmp_path / "results/demo/linear/references").glob("*.parquet"))) == 2
