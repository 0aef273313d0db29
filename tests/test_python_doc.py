"""docs/python.md runs as written: its Python blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from runner_fakes import one_thread  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.usefixtures("one_thread", "tiny_digits_cache")
def test_the_python_guide_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert len(BLOCKS) >= 5
    namespace: dict = {}
    for number, block in enumerate(BLOCKS, start=1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "12 runs computed, 0 already done" in printed
    assert "4 runs" in printed
    assert (tmp_path / "reports/notebook.html").is_file()
    assert (tmp_path / "reports/notebook.pdf").read_bytes().startswith(b"%PDF")
