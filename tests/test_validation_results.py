"""The rerun in docs/results.md is the committed results, recomputed by the script it shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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


def test_the_committed_runs_carry_the_ids_their_specs_have_today():
    """Resuming the validation sweep into its folder must find these runs, not add twins."""
    import json

    from albench.protocol import Protocol
    from albench.specs import RunSpec

    for path in sorted((FOLDER / "runs").glob("*.selections.json")):
        spec = dict(json.loads(path.read_text(encoding="utf-8"))["spec"])
        spec.pop("revisions", None)
        protocol = {key: spec.pop(key) for key in list(spec) if key in Protocol.__annotations__}
        run_id = RunSpec(**spec, protocol=Protocol(**protocol)).run_id
        assert path.name == f"{run_id}.selections.json"


def _strategy_tables(folder: Path, versus: str) -> str:
    spec = importlib.util.spec_from_file_location(
        "strategy_table", ROOT / "docs" / "strategy_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tables(str(folder), versus)


@pytest.mark.parametrize(
    ("folder", "versus", "rows"),
    [
        ("all-strategies", "random", 17),
        ("mc-dropout", "random", 6),
        ("noisy-oracle", "dual-prompt", 15),
    ],
)
def test_the_strategy_tables_in_docs_are_what_the_committed_results_give(folder, versus, rows):
    tables = _strategy_tables(ROOT / "results" / folder, versus)
    lines = tables.splitlines()
    data = [line for line in lines if line.startswith("| ") and not line.startswith("| strategy")]
    assert len(data) == rows  # one row per (scenario, strategy)
    assert tables in (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
