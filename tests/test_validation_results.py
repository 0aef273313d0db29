"""The rerun in docs/results.md is the committed results, recomputed by the script it shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "results" / "validation" / "fast-cpu"


def test_the_rerun_table_in_docs_is_what_the_committed_results_give():
    spec = importlib.util.spec_from_file_location(
        "validation_table", ROOT / "docs" / "validation_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.table(str(FOLDER))
    assert len(table.splitlines()) == 2 + 7  # header, rule, seven strategies
    assert table in (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
