"""Third-party strategies: the installed example plugin, file specs, and their failures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from albench import results
from albench.cli import main
from albench.commands import strategies as strategies_command
from albench.errors import AlbenchError, InvalidSpecError, UnknownNameError
from albench.strategies import REGISTRY, StrategyContext, get_strategy, split_specs, strategy_table
from albench.strategies import registry as registry_module

PLUGIN_DIST = "albench-example-plugin"

FIRST_UNLABELLED = """
import numpy as np
from albench.strategies import Selection, Strategy


class FirstUnlabelled(Strategy):
    name = "{name}"
    category = "test"
    needs = frozenset()

    def select(self, ctx, budget, rng):
        return Selection(indices=ctx.unlabelled[: min(budget, ctx.unlabelled.size)])


class NotAStrategy:
    pass
"""


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registry changes made by a test are undone after it."""
    monkeypatch.setattr(REGISTRY, "_classes", dict(REGISTRY._classes))
    monkeypatch.setattr(REGISTRY, "_origins", dict(REGISTRY._origins))
    return REGISTRY


def context(n: int = 10, labelled=(1, 2)) -> StrategyContext:
    rng = np.random.default_rng(0)
    labelled = np.asarray(labelled, dtype=np.int64)
    p = rng.dirichlet(np.ones(3), size=n)
    return StrategyContext(
        features=rng.normal(size=(n, 4)).astype(np.float32),
        labelled=labelled,
        labelled_labels=np.zeros(labelled.size, dtype=np.int64),
        n_classes=3,
        providers={"probabilities": lambda: p},
    )


def test_example_plugin_is_registered_with_its_distribution_name():
    rows = {row["name"]: row for row in strategy_table()}
    assert rows["power-margin"]["origin"] == PLUGIN_DIST
    assert rows["power-margin"]["needs"] == ("probabilities",)
    assert rows["entropy"]["origin"] == "built-in"


def test_example_plugin_selects_and_wraps():
    ctx = context()
    selected = get_strategy("power-margin(beta=1000)").select(ctx, 3, np.random.default_rng(0))
    margin = get_strategy("margin").select(ctx, 3, np.random.default_rng(0))
    # a very large beta concentrates the power law on the top of the margin ranking
    np.testing.assert_array_equal(selected.indices, margin.indices)
    wrapped = get_strategy("pcb(power-margin)").select(ctx, 4, np.random.default_rng(0))
    assert len(set(wrapped.indices.tolist())) == 4


def test_strategies_command_lists_the_plugin(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert strategies_command.show(SimpleNamespace(format="table")) == 0
    out = capsys.readouterr().out
    assert "power-margin" in out and PLUGIN_DIST in out and "typiclust" in out


def test_file_spec_loads_and_registers_the_class(tmp_path, scratch_registry):
    path = tmp_path / "mine.py"
    path.write_text(FIRST_UNLABELLED.format(name="first-unlabelled"))
    strategy = get_strategy(f"{path}:FirstUnlabelled")
    np.testing.assert_array_equal(strategy.select(context(), 3, None).indices, [0, 3, 4])
    assert scratch_registry.origin("first-unlabelled") == str(path.resolve())
    again = get_strategy(f"{path}:FirstUnlabelled")  # imported once, no name clash
    assert type(again) is type(strategy)
    wrapped = get_strategy(f"pcb({path}:FirstUnlabelled, candidates=2)")
    assert wrapped.select(context(), 2, None).indices.size == 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{dir}/missing.py:FirstUnlabelled", "does not exist"),
        ("{file}:NotAStrategy", "not a Strategy subclass"),
        ("{file}:Absent", "not a Strategy subclass"),
    ],
)
def test_bad_file_specs_are_user_errors(tmp_path, scratch_registry, spec, message):
    path = tmp_path / "mine2.py"
    path.write_text(FIRST_UNLABELLED.format(name="first-unlabelled-2"))
    with pytest.raises(InvalidSpecError, match=message):
        get_strategy(spec.format(dir=tmp_path, file=path))


def test_file_that_fails_to_import_is_a_user_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import not_a_module_anywhere\n")
    with pytest.raises(AlbenchError, match=r"broken\.py.*failed to import.*not_a_module"):
        get_strategy(f"{path}:Anything")


def test_file_strategy_clashing_with_a_built_in_names_both(tmp_path, scratch_registry):
    path = tmp_path / "clash.py"
    path.write_text(FIRST_UNLABELLED.format(name="entropy"))
    with pytest.raises(AlbenchError, match=r"'entropy'.*Entropy \(built-in\).*clash\.py"):
        get_strategy(f"{path}:FirstUnlabelled")


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("entropi", UnknownNameError, "did you mean 'entropy'"),
        ("pcb", InvalidSpecError, "wraps one strategy"),
        ("entropy(random)", InvalidSpecError, "does not wrap"),
        ("pcb(badge, candidates=0)", InvalidSpecError, "candidates"),
        ("pcb(badge, candidate=4)", InvalidSpecError, "has no option 'candidate'"),
        ("pcb(badge, candidates=four)", InvalidSpecError, "candidates"),
        ("pcb(badge", InvalidSpecError, "malformed"),
        ("pcb(badge))", InvalidSpecError, "unbalanced|malformed"),
        ("", InvalidSpecError, "empty"),
    ],
)
def test_bad_specs_are_user_errors(spec, error, message):
    with pytest.raises(error, match=message):
        get_strategy(spec)


def test_specs_with_options_and_lists():
    strategy = get_strategy(" pcb( badge , candidates=8 ) ")
    assert strategy.candidates == 8 and repr(strategy.base) == "badge"
    assert get_strategy("probcover(delta=0.25)").delta == 0.25
    assert split_specs("random,pcb(badge, candidates=8),coreset") == [
        "random",
        "pcb(badge, candidates=8)",
        "coreset",
    ]


# --- entry-point failures, with fake entry points --------------------------------------


def fake_entry_point(load, dist="broken-dist"):
    return SimpleNamespace(
        name="fake", value="fake_module:Fake", dist=SimpleNamespace(name=dist), load=load
    )


def fresh_plugin_scan(monkeypatch, points):
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points)
    monkeypatch.setattr(REGISTRY, "_plugins_loaded", False)


def test_plugin_failing_to_import_names_its_distribution(monkeypatch, scratch_registry):
    def load():
        raise ImportError("No module named 'fake_module'")

    fresh_plugin_scan(monkeypatch, [fake_entry_point(load)])
    with pytest.raises(registry_module.PluginError, match=r"'broken-dist'.*failed to import"):
        strategy_table()


def test_plugin_clashing_with_a_built_in_names_both(monkeypatch, scratch_registry):
    from albench.strategies import Strategy

    def load():
        class Impostor(Strategy):
            name = "margin"

        return Impostor

    fresh_plugin_scan(monkeypatch, [fake_entry_point(load, dist="impostor-dist")])
    with pytest.raises(AlbenchError, match=r"'margin'.*Margin \(built-in\).*\(impostor-dist\)"):
        strategy_table()


def test_plugin_entry_point_must_name_a_strategy(monkeypatch, scratch_registry):
    fresh_plugin_scan(monkeypatch, [fake_entry_point(lambda: 42, dist="odd-dist")])
    with pytest.raises(registry_module.PluginError, match=r"'odd-dist'.*Strategy subclass"):
        strategy_table()


# --- end to end -------------------------------------------------------------------------


def test_plugin_strategy_runs_through_the_cli(tmp_path):
    out = tmp_path / "sweep"
    argv = ["run", "--strategy", "power-margin", "--dataset", "digits", "--backbone"]
    argv += ["tiny-clip", "--learner", "linear", "--seeds", "0", "--rounds", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = results.load(out)
    assert rows["strategy"].unique().tolist() == ["power-margin"]
    assert rows.sort_values("round")["n_labelled"].tolist() == [10, 20, 30]
    (selections_file,) = (out / results.RUNS_DIR).glob("*.selections.json")
    record = json.loads(selections_file.read_text())
    picks = [np.asarray(r["indices"]) for r in record["rounds"]]
    chosen = np.concatenate([record["initial"], *picks])
    assert [p.size for p in picks] == [10, 10] and np.unique(chosen).size == 30
