"""The noisy annotator: seeded per (dataset, seed, sample), hidden from strategies and
learners, counted in the results, and absent from the run id when unused."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401
from scipy import stats

from albench.errors import InvalidSpecError, UnknownNameError
from albench.protocol import Protocol
from albench.runner import run
from albench.scenarios import (
    OUTSIDE,
    SCENARIOS,
    NoisyOracle,
    Scenario,
    Task,
    World,
    parse_scenario,
)
from albench.specs import RunSpec, SweepSpec

INPUTS = make_inputs()
pytestmark = pytest.mark.usefixtures("one_thread")


def test_wrong_labels_follow_the_rate_and_are_never_the_true_class():
    labels = np.random.default_rng(0).integers(0, 5, 20_000)
    revealed = NoisyOracle(rate=0.2).annotations(labels, 5, seed=3, dataset="d")
    wrong = revealed != labels
    assert stats.binomtest(int(wrong.sum()), len(labels), 0.2).pvalue > 0.001
    # a wrong label is uniform over the other four classes
    shifts = (revealed[wrong] - labels[wrong]) % 5
    counts = np.bincount(shifts, minlength=5)
    assert counts[0] == 0 and stats.chisquare(counts[1:]).pvalue > 0.001
    again = NoisyOracle(rate=0.2).annotations(labels, 5, seed=3, dataset="d")
    other_seed = NoisyOracle(rate=0.2).annotations(labels, 5, seed=4, dataset="d")
    assert np.array_equal(revealed, again) and not np.array_equal(revealed, other_seed)


def _spec(strategy: str, scenario: str = "") -> RunSpec:
    protocol = Protocol(rounds=2, scenario=scenario)
    return RunSpec("blobs", "fake", "linear", strategy, 0, protocol=protocol)


def test_a_run_trains_on_revealed_labels_and_counts_the_wrong_ones():
    noisy = run(_spec("random", "noisy-oracle(rate=0.4)"), INPUTS)
    clean = run(_spec("random"), INPUTS)
    picks = np.asarray(noisy.selections["initial"] + noisy.selections["rounds"][0]["indices"])
    revealed = NoisyOracle(rate=0.4).annotations(INPUTS.pool_labels, INPUTS.n_classes, 0, "blobs")
    expected = int(np.count_nonzero(revealed[picks] != INPUTS.pool_labels[picks]))
    assert noisy.rows["n_wrong_labels"].tolist()[1] == expected > 0
    assert clean.rows["n_wrong_labels"].tolist() == [0, 0, 0]
    # the same labelled set (random picks do not depend on labels), other training labels
    assert noisy.selections["initial"] == clean.selections["initial"]


def test_strategies_see_the_revealed_labels_only():
    result = run(_spec(spec_of("RecordsLabels"), "noisy-oracle(rate=0.5)"), INPUTS)
    seen = result.selections["rounds"][0]["info"]["labelled_labels"]
    initial = np.asarray(result.selections["initial"])
    revealed = NoisyOracle(rate=0.5).annotations(INPUTS.pool_labels, INPUTS.n_classes, 0, "blobs")
    np.testing.assert_array_equal(seen, revealed[initial])
    assert not np.array_equal(seen, INPUTS.pool_labels[initial])


def test_a_scenario_enters_the_run_id_only_when_set():
    plain = _spec("random")
    assert "scenario" not in plain.identity()
    noisy = _spec("random", "noisy-oracle(rate=0.2)")
    assert noisy.run_id != plain.run_id
    assert replace(noisy, protocol=replace(noisy.protocol, scenario="")) == plain


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("noisy-orcle(rate=0.1)", UnknownNameError, "did you mean 'noisy-oracle'"),
        ("noisy-oracle(rate=1.0)", InvalidSpecError, r"rate is in \[0, 1\)"),
        ("noisy-oracle(rate=high)", InvalidSpecError, "rate='high': expected number"),
        ("noisy-oracle(rate=0.1, kind=gaussian)", InvalidSpecError, "uniform | confusion"),
    ],
)
def test_bad_scenarios_are_one_line_errors(text, error, message):
    with pytest.raises(error, match=message):
        Protocol(scenario=text)


def test_the_report_s_command_reproduces_the_scenario_and_the_preset():
    from albench.report.reproduce import command

    spec = {
        "datasets": ["d"],
        "backbones": ["b"],
        "learners": ["linear"],
        "strategies": ["random"],
        "seeds": [0],
        "protocol": {"rounds": 2, "scenario": "noisy-oracle(rate=0.2)", "preset": "pcb"},
    }
    text = command(spec, "out")
    assert "'--scenario=noisy-oracle(rate=0.2)'" in text and "--protocol=pcb" in text


# --------------------------------------------------------------------------- a sweep axis


def _sweep(**fields) -> SweepSpec:
    return SweepSpec(("blobs",), ("fake",), ("linear",), ("random", "entropy"), (0, 1), **fields)


def test_a_sweep_crosses_its_scenarios_and_the_ideal_one_keeps_its_run_ids():
    plain = _sweep()
    crossed = _sweep(scenarios=("", "noisy-oracle(rate=0.1)", "noisy-oracle(rate=0.3)"))
    runs = crossed.runs()
    assert [spec.protocol.scenario for spec in runs[::4]] == [
        "",
        "noisy-oracle(rate=0.1)",
        "noisy-oracle(rate=0.3)",
    ]
    assert [spec.run_id for spec in runs[:4]] == [spec.run_id for spec in plain.runs()]
    assert len({spec.run_id for spec in runs}) == 12
    assert crossed.identity()["scenarios"] == (
        "",
        "noisy-oracle(rate=0.1)",
        "noisy-oracle(rate=0.3)",
    )
    assert "scenarios" not in plain.identity()


def test_one_scenario_is_the_protocol_s_own_so_its_sweep_is_the_one_it_always_was():
    listed = _sweep(scenarios=("noisy-oracle(rate=0.1)",))
    in_protocol = _sweep(protocol=Protocol(scenario="noisy-oracle(rate=0.1)"))
    assert listed.identity() == in_protocol.identity()
    assert [s.run_id for s in listed.runs()] == [s.run_id for s in in_protocol.runs()]
    assert _sweep(scenarios=("none", "")).identity() == _sweep().identity()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scenarios": "noisy-oracle(rate=0.1)"}, "list of scenario specs"),
        ({"scenarios": ("", "noisy-orcle(rate=0.1)")}, "did you mean 'noisy-oracle'"),
        (
            {"scenarios": ("", "noisy-oracle(rate=0.1)"), "protocol": Protocol(scenario="none")},
            None,
        ),
        (
            {
                "scenarios": ("", "noisy-oracle(rate=0.1)"),
                "protocol": Protocol(scenario="noisy-oracle(rate=0.2)"),
            },
            "give the scenarios once",
        ),
    ],
)
def test_bad_scenario_lists_are_one_line_errors(fields, message):
    if message is None:  # "none" in the protocol is no scenario: no clash
        assert len(_sweep(**fields).runs()) == 8
        return
    with pytest.raises((InvalidSpecError, UnknownNameError), match=message):
        _sweep(**fields)


def _parsed(tmp_path, text: str, *flags: str) -> SweepSpec:
    from albench.cli import build_parser
    from albench.commands.sweep_options import sweep_from_args

    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return sweep_from_args(build_parser().parse_args(["run", f"--config={path}", *flags]))


def test_scenarios_come_from_the_sweep_file_or_the_flag_split_at_top_level_commas(tmp_path):
    text = 'datasets = ["blobs"]\nstrategies = ["random"]\n'
    text += 'scenarios = ["", "noisy-oracle(rate=0.1)"]\n'
    assert _parsed(tmp_path, text).scenarios == ("", "noisy-oracle(rate=0.1)")
    flag = "--scenario=none,noisy-oracle(rate=0.3, kind='uniform')"
    assert _parsed(tmp_path, text, flag).scenarios == ("", "noisy-oracle(rate=0.3, kind='uniform')")
    single = 'datasets = ["blobs"]\nstrategies = ["random"]\n[protocol]\nscenario = "none"\n'
    sweep = _parsed(tmp_path, single, "--scenario=noisy-oracle(rate=0.1)")
    assert sweep.scenarios == () and sweep.protocol.scenario == "noisy-oracle(rate=0.1)"
    with pytest.raises(InvalidSpecError, match="scenarios must be a comma list"):
        _parsed(tmp_path, 'datasets = ["blobs"]\nstrategies = ["random"]\nscenarios = 3\n')


def test_the_noisy_oracle_example_parses_and_compares_every_strategy_under_one_learner():
    from albench.commands.sweep_options import sweep_from_file
    from albench.runner import check_spec

    sweep = sweep_from_file(Path(__file__).parents[1] / "examples" / "noisy-oracle.toml")
    assert sweep.scenarios == ("", "noisy-oracle(rate=0.1)", "noisy-oracle(rate=0.3)")
    assert sweep.protocol.preset == "fast-cpu" and sweep.seeds == (0, 1, 2, 3, 4)
    assert sweep.left_out() == [] and len(sweep.runs()) == 5 * 3 * 5
    for spec in sweep.runs()[::5]:
        check_spec(spec)  # badge and pcb(badge) find their gradient embeddings


def test_rows_say_which_scenario_they_belong_to():
    assert set(run(_spec("random", "noisy-oracle(rate=0.1)"), INPUTS).rows["scenario"]) == {
        "noisy-oracle(rate=0.1)"
    }
    assert set(run(_spec("random"), INPUTS).rows["scenario"]) == {""}


def _with_scenario(frame: pd.DataFrame, scenario: str) -> pd.DataFrame:
    return frame.assign(scenario=scenario, run_id=frame["run_id"] + scenario)


def test_the_report_pairs_runs_within_one_task_and_labels_tasks_only_when_several():
    from test_report import synthetic_results

    from albench.report.build import prepare
    from albench.report.context import ReportOptions

    frame = synthetic_results(datasets=("d1", "d2"))
    alone = prepare(frame, ReportOptions(), [])
    one = prepare(_with_scenario(frame, "noisy-oracle(rate=0.1)"), ReportOptions(), [])
    assert one["env"].tolist() == alone["env"].tolist()
    assert set(alone["env"]) == {"d1", "d2"}
    mixed = pd.concat([frame.assign(scenario=""), _with_scenario(frame, "noisy-oracle(rate=0.1)")])
    both = prepare(mixed, ReportOptions(), [])
    assert set(both["env"]) == {
        "d1 · no scenario",
        "d1 · noisy-oracle(rate=0.1)",
        "d2 · no scenario",
        "d2 · noisy-oracle(rate=0.1)",
    }
    assert both["group"].nunique() == 1  # the tasks are ranked against each other


def test_the_run_summary_keeps_scenarios_apart_only_when_several():
    from albench.stats import sweep_summary

    rows = run(_spec("random"), INPUTS).rows
    noisy = run(_spec("random", "noisy-oracle(rate=0.4)"), INPUTS).rows
    assert "scenario" not in sweep_summary(rows)[1].columns
    _, aubc = sweep_summary(pd.concat([rows, noisy]))
    assert aubc["scenario"].tolist() == ["", "noisy-oracle(rate=0.4)"]
    assert aubc["seeds"].tolist() == [1, 1]


def test_the_report_s_command_reproduces_a_list_of_scenarios():
    from albench.report.reproduce import command

    spec = {
        "datasets": ["d"],
        "backbones": ["b"],
        "learners": ["linear"],
        "strategies": ["random"],
        "seeds": [0],
        "protocol": {"rounds": 2},
        "scenarios": ["", "noisy-oracle(rate=0.2)"],
    }
    assert "'--scenario=none,noisy-oracle(rate=0.2)'" in command(spec, "out")


# --------------------------------------------------------------------------- combinations


@dataclass(frozen=True)
class _EvenRows(Scenario):
    """A test scenario: the pool keeps its even rows (``reshape``)."""

    name = "even-rows"

    def reshape(self, task: Task, world: World) -> Task:
        return task.with_pool(task.pool[task.pool % 2 == 0])


SCENARIOS.pop(_EvenRows.name)  # registered by subclassing; only the fixture below adds it


@pytest.fixture
def even_rows():
    SCENARIOS[_EvenRows.name] = _EvenRows
    yield
    del SCENARIOS[_EvenRows.name]


def _world(labels: np.ndarray, n_classes: int, seed: int = 0) -> World:
    return World("d", seed, labels, np.arange(n_classes), n_classes)


def test_a_combination_applies_each_part_in_the_order_of_the_steps(even_rows):
    labels = np.random.default_rng(1).integers(0, 4, 40)
    world = _world(labels, 4)
    one = parse_scenario("even-rows+noisy-oracle(rate=0.5)").task(world)
    other = parse_scenario(" noisy-oracle(rate=0.5) + even-rows ").task(world)
    oracle = NoisyOracle(rate=0.5).annotations(labels, 4, seed=0, dataset="d")
    for task in (one, other):
        np.testing.assert_array_equal(task.pool, np.arange(0, 40, 2))
        np.testing.assert_array_equal(task.revealed, oracle)
        np.testing.assert_array_equal(task.labels, labels)
    shaped = parse_scenario("even-rows+noisy-oracle(rate=0.5)").task(world, annotated=False)
    np.testing.assert_array_equal(shaped.revealed, labels)  # sizes without the annotator


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("noisy-oracle(rate=0.1)+", InvalidSpecError, "'\\+' joins two scenarios"),
        ("noisy-oracle(rate=0.1)+noisy-oracle(rate=0.2)", InvalidSpecError, "given twice"),
        ("noisy-oracle(rate=0.1)+long-tale(imbalance=10)", UnknownNameError, "long-tale"),
        ("noisy-oracle(0.1)", InvalidSpecError, "takes options only"),
        ("noisy-oracle(rate=0.1, kind=uniform)+", InvalidSpecError, "malformed scenario"),
    ],
)
def test_bad_combinations_are_one_line_errors(text, error, message):
    with pytest.raises(error, match=message):
        Protocol(scenario=text)


def test_scenarios_parse_without_torch():
    code = (
        "import sys; from albench.protocol import Protocol; "
        "Protocol(scenario='noisy-oracle(rate=0.2)'); "
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- confusion


#: zero-shot probabilities of an image of class i (row i), hand-made
ZERO_SHOT = np.array(
    [
        [0.70, 0.20, 0.06, 0.04],
        [0.10, 0.60, 0.25, 0.05],
        [0.02, 0.08, 0.80, 0.10],
        [0.25, 0.25, 0.25, 0.25],
    ]
)


def _confused_world(n: int = 40_000, seed: int = 0) -> World:
    labels = np.random.default_rng(7).integers(0, 4, n)
    return World(
        "d",
        seed,
        labels,
        np.arange(4),
        4,
        zero_shot=lambda rows, classes: ZERO_SHOT[np.ix_(labels[rows], classes)],
    )


def test_a_confused_annotator_follows_the_zero_shot_confusion_off_the_diagonal():
    world = _confused_world()
    task = parse_scenario("noisy-oracle(rate=0.3, kind='confusion')").task(world)
    labels, wrong = world.pool_labels, task.revealed != world.pool_labels
    assert stats.binomtest(int(wrong.sum()), len(labels), 0.3).pvalue > 0.001
    law = ZERO_SHOT * (1 - np.eye(4))
    law /= law.sum(axis=1, keepdims=True)
    for true in range(4):
        counts = np.bincount(task.revealed[wrong & (labels == true)], minlength=4)
        assert counts[true] == 0
        others = np.delete(np.arange(4), true)
        expected = law[true, others] * counts.sum()
        assert stats.chisquare(counts[others], expected).pvalue > 0.001, (true, counts)
    # the law is far enough from the uniform one for the test to tell them apart
    counts = np.bincount(task.revealed[wrong & (labels == 0)], minlength=4)[1:]
    assert stats.chisquare(counts, np.full(3, counts.sum() / 3)).pvalue < 1e-6


def test_the_confusion_comes_from_the_zero_shot_model_on_pool_images():
    from albench.task import world_of

    world = world_of(_spec("random"), INPUTS)
    rows, classes = np.array([0, 5, 9]), np.array([2, 0])
    x = INPUTS.pool_features[rows].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = INPUTS.logit_scale * x @ INPUTS.text_embeddings[classes].T
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(world.zero_shot(rows, classes), expected, rtol=1e-4, atol=1e-6)
    result = run(_spec("random", "noisy-oracle(rate=0.4, kind='confusion')"), INPUTS)
    assert result.rows["n_wrong_labels"].iloc[-1] > 0


# --------------------------------------------------------------------------- long tail


def _pool(sizes: list[int]) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
    return np.random.default_rng(3).permutation(labels)


@pytest.mark.parametrize(
    ("sizes", "imbalance", "expected"),
    [
        # int(50 * 10 ** (-i / 4)): 50, 28.1, 15.8, 8.9, 5
        ([50, 50, 50, 50, 50], 10, [50, 28, 15, 8, 5]),
        # n_max is the smallest class: int(50 * 4 ** (-i / 2)): 50, 25, 12.5
        ([60, 50, 70], 4, [50, 25, 12]),
        # every class keeps one image: int(20 / 100) would be 0
        ([20, 20], 100, [20, 1]),
    ],
)
def test_the_long_tail_profile_is_its_formula_in_a_seeded_class_order(sizes, imbalance, expected):
    labels = _pool(sizes)
    world = World("d", 0, labels, np.arange(len(sizes)), len(sizes))
    task = parse_scenario(f"long-tail(imbalance={imbalance})").task(world)
    counts = np.bincount(labels[task.pool], minlength=len(sizes))
    assert sorted(counts, reverse=True) == expected
    np.testing.assert_array_equal(task.test, np.arange(len(sizes)))  # the test split stays
    again = parse_scenario(f"long-tail(imbalance={imbalance})").task(world)
    np.testing.assert_array_equal(again.pool, task.pool)


def test_the_order_of_the_classes_changes_with_the_seed_and_the_noise_does_not_follow_it():
    labels = _pool([40] * 6)
    spec = "long-tail(imbalance=20)+noisy-oracle(rate=0.3)"
    orders = set()
    for seed in range(4):
        world = World("d", seed, labels, np.arange(6), 6)
        task = parse_scenario(spec).task(world)
        orders.add(tuple(np.argsort(-np.bincount(labels[task.pool], minlength=6))))
        alone = NoisyOracle(rate=0.3).annotations(labels, 6, seed=seed, dataset="d")
        np.testing.assert_array_equal(task.revealed, alone)  # per sample, whatever the pool
    assert len(orders) > 1


def test_worst_class_accuracy_is_the_lowest_recall_of_a_class_in_the_test_split():
    from albench.metrics import worst_class_accuracy

    truth = np.array([0, 0, 1, 1, 3, 3, 3, 3])
    predicted = np.array([0, 1, 1, 1, 3, 3, 0, 0])
    assert worst_class_accuracy(truth, predicted, 4) == 0.5  # class 2 has no test sample
    assert worst_class_accuracy(truth, truth, 4) == 1.0


def test_a_long_tailed_run_has_a_smaller_pool_the_same_test_split_and_class_metrics():
    result = run(_spec("random", "long-tail(imbalance=10)"), INPUTS)
    counts = np.bincount(INPUTS.pool_labels, minlength=4)
    expected = sum(int(counts.min() * 10 ** (-i / 3)) for i in range(4))
    assert set(result.rows["pool_size"]) == {expected} and expected < len(INPUTS.pool_labels)
    assert set(result.rows["test_size"]) == {len(INPUTS.test_labels)}
    rows = result.rows
    assert (rows["worst_class_accuracy"] <= rows["balanced_accuracy"] + 1e-12).all()


def test_the_report_shows_per_class_accuracy_when_recorded():
    from test_report import synthetic_results

    from albench.report import ReportOptions, build_report

    frame = synthetic_results(datasets=("d1",), seeds=(0, 1))
    titles = [s.title for s in build_report(frame, ReportOptions()).sections]
    assert "Accuracy per class" not in titles
    recorded = frame.assign(worst_class_accuracy=frame["accuracy"] - 0.2)
    section = next(
        s
        for s in build_report(recorded, ReportOptions()).sections
        if s.title == "Accuracy per class"
    )
    table = section.blocks[0].frame
    last = recorded[recorded["round"] == recorded["round"].max()]
    random = last[last["strategy"] == "random"]
    row = table[table["strategy"] == "random"].iloc[0]
    assert row["worst class (%)"] == f"{100 * random['worst_class_accuracy'].mean():.2f}"


# --------------------------------------------------------------------------- open set


def _named_world(sizes: list[int], seed: int = 0) -> World:
    labels = _pool(sizes)
    names = tuple(f"c{k}" for k in range(len(sizes)))
    test = np.repeat(np.arange(len(sizes)), 2)
    return World("d", seed, labels, test, len(sizes), class_names=names)


def test_an_open_set_keeps_the_other_classes_and_mixes_in_held_out_images_at_its_ratio():
    world = _named_world([30] * 6)
    task = parse_scenario("open-set(ratio=0.25, classes=('c1', 'c4'))").task(world)
    np.testing.assert_array_equal(task.classes, [0, 2, 3, 5])
    labels = world.pool_labels
    outside = np.isin(labels, [1, 4])
    np.testing.assert_array_equal(task.labels[outside], OUTSIDE)
    np.testing.assert_array_equal(
        task.labels[~outside], np.searchsorted([0, 2, 3, 5], labels[~outside])
    )
    in_pool = np.isin(labels[task.pool], [1, 4])
    assert (~in_pool).sum() == 120 and in_pool.sum() == 40  # 40 / 160 = 0.25
    np.testing.assert_array_equal(task.test_labels, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(world.test_labels[task.test], [0, 0, 2, 2, 3, 3, 5, 5])


def test_held_out_classes_by_number_are_drawn_per_seed():
    held = set()
    for seed in range(5):
        task = parse_scenario("open-set(ratio=0.1, classes=2)").task(_named_world([30] * 6, seed))
        assert task.n_classes == 4
        held.add(tuple(np.setdiff1d(np.arange(6), task.classes)))
    assert len(held) > 1
    default = parse_scenario("open-set").task(_named_world([30] * 6))
    assert default.n_classes == 4  # a third of six classes held out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("open-set(ratio=0.5, classes=['c1'])", "hold 30 pool images, fewer than the 150"),
        ("open-set(classes=['c9'])", "has no class 'c9'"),
        ("open-set(classes=5)", "leaves fewer than 2"),
        ("open-set(ratio=1)", r"ratio is in \[0, 1\)"),
        ("open-set(classes=0)", "at least one class"),
        ("open-set(classes=(1, 2))", "a tuple of class names"),
    ],
)
def test_bad_open_sets_are_one_line_errors(text, message):
    with pytest.raises(InvalidSpecError, match=message):
        parse_scenario(text).task(_named_world([30] * 6))


OPEN = "open-set(ratio=0.2, classes=1)"


def test_an_open_set_query_costs_budget_gives_no_label_and_is_never_offered_again():
    from albench.task import task_of

    spec = _spec(spec_of("FirstUnlabelled"), OPEN)
    result = run(spec, INPUTS)
    task = task_of(spec, INPUTS)
    queried = [result.selections["initial"], *(r["indices"] for r in result.selections["rounds"])]
    every = np.concatenate(queried)
    assert len(set(every)) == len(every)  # a wasted query is never picked again
    assert set(every) <= set(task.pool)
    outside = np.cumsum([np.count_nonzero(task.labels[q] == OUTSIDE) for q in queried])
    rows = result.rows
    assert rows["n_wasted_queries"].tolist() == outside.tolist() and outside[-1] > 0
    assert rows["n_labelled"].tolist() == np.cumsum([len(q) for q in queried]).tolist()
    labelled = rows["labelled_per_class"].map(sum)
    assert (labelled == rows["n_labelled"] - rows["n_wasted_queries"]).all()
    assert set(rows["n_classes"]) == {3}
    assert set(rows["test_size"]) == {int(np.count_nonzero(task.test_labels >= 0))}


def test_strategies_never_see_a_query_without_a_label():
    result = run(_spec(spec_of("RecordsLabels"), OPEN + "+noisy-oracle(rate=0.3)"), INPUTS)
    for record in result.selections["rounds"]:
        assert min(record["info"]["labelled_labels"], default=0) >= 0


def test_scenarios_compose_a_long_tail_inside_an_open_set_with_noise_on_known_classes():
    world = _named_world([40] * 6)
    spec = "noisy-oracle(rate=0.5)+long-tail(imbalance=8)+open-set(ratio=0.2, classes=('c0', 'c5'))"
    task = parse_scenario(spec).task(world)
    inside = task.labels[task.pool] != OUTSIDE
    counts = np.bincount(task.labels[task.pool][inside], minlength=4)
    assert sorted(counts, reverse=True) == [int(40 * 8 ** (-i / 3)) for i in range(4)]
    assert (~inside).sum() == round(0.2 * inside.sum() / 0.8)
    assert (task.revealed[task.labels == OUTSIDE] == OUTSIDE).all()
    known = task.labels != OUTSIDE
    assert 0.4 < np.mean(task.revealed[known] != task.labels[known]) < 0.6


def test_the_report_shows_wasted_queries_per_strategy_when_any():
    from test_report import synthetic_results

    from albench.report import ReportOptions, build_report

    frame = synthetic_results(datasets=("d1",), seeds=(0, 1))
    titles = [
        s.title for s in build_report(frame.assign(n_wasted_queries=0), ReportOptions()).sections
    ]
    assert "Annotator" not in titles
    wasted = frame.assign(n_wasted_queries=(frame["strategy"] == "random") * frame["round"])
    section = next(
        s for s in build_report(wasted, ReportOptions()).sections if s.title == "Annotator"
    )
    table = section.blocks[0].frame.set_index("strategy")
    last = wasted[wasted["round"] == wasted["round"].max()]
    spent = last[last["strategy"] == "random"]["n_labelled"].mean()
    rounds = int(wasted["round"].max())
    assert table.loc["random", "wasted queries"] == f"{rounds:.1f}"
    assert table.loc["random", "wasted queries (%)"] == f"{100 * rounds / spent:.1f}"
    assert table.loc["entropy", "wasted queries"] == "0.0"
    assert "wrong labels" not in table.columns


@pytest.mark.parametrize("kind", ["uniform", "confusion"])
def test_every_strategy_and_learner_meets_the_same_annotator_on_the_same_sample(kind):
    from albench.task import task_of

    scenario = f"noisy-oracle(rate=0.4, kind={kind!r})+long-tail(imbalance=5)"
    specs = [
        _spec("random", scenario),
        _spec("entropy", scenario),
        replace(_spec("badge", scenario), learner="zero-shot"),
    ]
    tasks = [task_of(spec, INPUTS) for spec in specs]
    for task in tasks[1:]:
        np.testing.assert_array_equal(task.revealed, tasks[0].revealed)
        np.testing.assert_array_equal(task.pool, tasks[0].pool)
    other_seed = task_of(replace(specs[0], seed=1), INPUTS)
    assert not np.array_equal(other_seed.revealed, tasks[0].revealed)
    recording = _spec(spec_of("RecordsLabels"), scenario)
    seen = [
        run(spec, INPUTS).selections["rounds"][1]["info"]["labelled_labels"]
        for spec in (recording, replace(recording, learner="zero-shot"))
    ]
    assert seen[0] == seen[1]  # the same picks (lowest indices) got the same labels


def test_references_are_of_the_ideal_task_whose_pool_a_scenario_only_shrinks(monkeypatch, tmp_path):
    from albench import reference

    seen = {}

    def capture(spec, pool_sizes):
        seen.update(pool_sizes)
        return {}

    monkeypatch.setattr(reference, "reference_specs", capture)
    rows = pd.DataFrame({"dataset": ["d", "d", "d"], "pool_size": [57, 120, 80]})
    reference.references(tmp_path, [{"spec": {}}], rows, compute=False)
    assert seen == {"d": 120}
