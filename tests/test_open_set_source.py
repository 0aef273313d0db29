"""``open-set(ratio=r, source=DATASET)``: another dataset's pool images as the out-of-task
share of the pool, joined to the run's inputs by the sweep (``albench.joined_inputs``)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from runner_fakes import make_inputs, one_thread  # noqa: F401

from albench.checks import check_names
from albench.errors import FeatureError, InvalidSpecError, UnknownNameError
from albench.joined_inputs import JoinedSplit, spec_inputs
from albench.protocol import Protocol
from albench.results import load, read_sweeps, run_selections_path
from albench.runner import run
from albench.scenarios import OUTSIDE, parse_scenario
from albench.seeding import stream
from albench.specs import RunSpec, SweepSpec
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.sweep import run_sweep
from albench.task import task_of

pytestmark = pytest.mark.usefixtures("one_thread")

#: 120 pool rows of 4 classes, 80 test rows, dimension 12
INPUTS = make_inputs("blobs")
DATASETS = {
    "blobs": INPUTS,
    "other": make_inputs("other", n_pool=200),
    "another": make_inputs("another", n_pool=200),
    "small": make_inputs("small", n_pool=10),
    "narrow": make_inputs("narrow", dim=8),
}
SOURCE = "open-set(ratio=0.2, source=other)"
#: foreign rows a ratio of 0.2 asks for beside 120 in-task rows: 0.2 / 0.8 x 120
WANTED = 30


def provider(dataset: str, backbone: str, data_root: str | None):
    return DATASETS[dataset]


def _spec(strategy: str = "random", scenario: str = SOURCE, seed: int = 0) -> RunSpec:
    protocol = Protocol(rounds=2, scenario=scenario)
    return RunSpec("blobs", "fake", "linear", strategy, seed, protocol=protocol)


def _task(spec: RunSpec):
    return task_of(spec, spec_inputs(spec, provider))


class LastUnlabelled(Strategy):
    """The highest unlabelled indices: the joined pool's foreign rows come last."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=ctx.unlabelled[::-1][:budget].copy())


def test_the_joined_pool_ends_with_the_source_s_pool_labelled_outside():
    joined = spec_inputs(_spec(), provider)
    other = DATASETS["other"]
    np.testing.assert_array_equal(joined.pool_features[:120], INPUTS.pool_features)
    np.testing.assert_array_equal(joined.pool_features[120:], other.pool_features)
    np.testing.assert_array_equal(joined.pool_labels[:120], INPUTS.pool_labels)
    assert (joined.pool_labels[120:] == OUTSIDE).all()
    assert joined.class_names == INPUTS.class_names and joined.test_features is INPUTS.test_features
    assert spec_inputs(_spec("entropy"), provider) is joined  # joined once per process
    assert spec_inputs(_spec(scenario=""), provider) is INPUTS


def test_the_pool_gains_ratio_over_one_minus_ratio_foreign_rows_drawn_per_dataset_source_seed():
    task = _task(_spec())
    foreign = task.pool[task.pool >= 120]
    np.testing.assert_array_equal(task.pool[task.pool < 120], np.arange(120))
    expected = stream(0, "open-set-pool", "blobs", "0.2", "other").choice(
        np.arange(120, 320), WANTED, replace=False
    )
    np.testing.assert_array_equal(foreign, np.sort(expected))
    for same_seed in (_spec("entropy"), replace(_spec("badge"), learner="zero-shot")):
        np.testing.assert_array_equal(_task(same_seed).pool, task.pool)
    assert not np.array_equal(_task(_spec(seed=1)).pool, task.pool)
    another = _task(_spec(scenario="open-set(ratio=0.2, source=another)"))
    assert not np.array_equal(another.pool, task.pool) and len(another.pool) == 120 + WANTED


def test_the_task_keeps_every_class_and_its_own_test_split():
    task = _task(_spec())
    np.testing.assert_array_equal(task.classes, np.arange(4))
    np.testing.assert_array_equal(task.labels[:120], INPUTS.pool_labels)
    np.testing.assert_array_equal(task.test, np.arange(80))
    np.testing.assert_array_equal(task.test_labels, INPUTS.test_labels)


def test_a_long_tail_thins_the_own_pool_only_and_sets_the_foreign_count():
    tail = "long-tail(imbalance=4)"
    alone = _task(_spec(scenario=tail))
    task = _task(_spec(scenario=f"{SOURCE}+{tail}"))
    np.testing.assert_array_equal(task.pool[task.pool < 120], alone.pool)
    assert np.count_nonzero(task.pool >= 120) == round(0.2 * len(alone.pool) / 0.8)


def test_a_foreign_query_costs_budget_adds_no_label_and_is_never_offered_again():
    spec = _spec(f"{__file__}:LastUnlabelled")
    result = run(spec, spec_inputs(spec, provider))
    rows, picks = result.rows, result.selections
    queried = [picks["initial"], *(record["indices"] for record in picks["rounds"])]
    every = np.concatenate(queried)
    assert len(set(every)) == len(every)
    assert all(min(record["indices"]) >= 120 for record in picks["rounds"])  # all foreign
    wasted = np.cumsum([np.count_nonzero(np.asarray(q) >= 120) for q in queried])
    assert rows["n_wasted_queries"].tolist() == wasted.tolist()
    assert rows["n_labelled"].tolist() == np.cumsum([len(q) for q in queried]).tolist()
    assert wasted[-1] - wasted[0] == rows["n_labelled"].iloc[-1] - rows["n_labelled"].iloc[0]
    per_class = rows["labelled_per_class"].map(tuple)
    assert per_class.nunique() == 1  # no round added a label
    assert sum(per_class.iloc[0]) == rows["n_labelled"].iloc[0] - wasted[0]
    assert set(rows["n_classes"]) == {4} and set(rows["test_size"]) == {80}
    assert set(rows["pool_size"]) == {120 + WANTED}


def test_source_and_classes_exclude_each_other():
    with pytest.raises(InvalidSpecError, match="classes= and source= exclude each other"):
        parse_scenario("open-set(ratio=0.2, classes=2, source=other)")


REFUSED = [
    ("open-set(ratio=0.2, source=small)", InvalidSpecError, "10 pool images, fewer than the 30"),
    ("open-set(ratio=0.2, source=narrow)", FeatureError, "dimension 8, the task's 12"),
    ("open-set(ratio=0.2, source=blobs)", InvalidSpecError, "the task's own dataset"),
]


@pytest.mark.parametrize(("scenario", "error", "message"), REFUSED)
def test_a_source_that_cannot_serve_is_refused_in_one_line_before_any_run(
    tmp_path, scenario, error, message
):
    with pytest.raises(error, match=message) as caught:
        _task(_spec(scenario=scenario))
    assert "\n" not in str(caught.value)
    sweep = SweepSpec(
        datasets=("blobs",), backbones=("fake",), learners=("linear",),
        strategies=("random",), seeds=(0,), protocol=Protocol(rounds=2, scenario=scenario),
    )  # fmt: skip
    with pytest.raises(error, match=message):
        run_sweep(sweep, tmp_path, inputs=provider)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_run_given_its_dataset_s_inputs_alone_is_told_to_join_the_source():
    with pytest.raises(InvalidSpecError, match="hold no images of source 'other'"):
        run(_spec(), INPUTS)


def test_an_unknown_source_is_an_unknown_dataset_before_torch(tmp_path):
    sweep = SweepSpec(
        datasets=("digits",), backbones=("tiny-clip",), learners=("linear",),
        strategies=("random",), seeds=(0,), scenarios=("", "open-set(source=digitz)"),
    )  # fmt: skip
    with pytest.raises(UnknownNameError, match="did you mean 'digits'"):
        check_names(sweep)
    from test_cli_shell import _run_in_fresh_process

    argv = ["--dataset", "fashion-mnist-mini", "--backbone", "tiny-clip", "--strategy", "random"]
    argv += ["--scenario", "open-set(ratio=0.2, source=digitz)", "--out", str(tmp_path / "out")]
    status, err, loaded = _run_in_fresh_process(tmp_path, *argv)
    assert status == 2 and err.count("\n") == 1 and "did you mean 'digits'" in err
    assert loaded == [] and not (tmp_path / "out").exists()


def test_run_ids_change_with_the_source():
    ids = {_spec(scenario=text).run_id for text in ("", SOURCE, SOURCE.replace("other", "another"))}
    assert len(ids) == 3


def _sweep() -> SweepSpec:
    return SweepSpec(
        datasets=("blobs",), backbones=("fake",), learners=("linear",),
        strategies=("random", "entropy"), seeds=(0, 1), protocol=Protocol(rounds=2),
        scenarios=("", SOURCE),
    )  # fmt: skip


def _wasted_from_selections(out, rows: pd.DataFrame) -> dict[str, int]:
    """Queries of foreign rows (pool index >= 120) per run, from its selections file."""
    counts = {}
    for run_id in rows["run_id"].unique():
        picks = json.loads(run_selections_path(out, run_id).read_text())
        queried = picks["initial"] + [i for r in picks["rounds"] for i in r["indices"]]
        counts[run_id] = sum(index >= 120 for index in queried)
    return counts


def test_a_sweep_records_the_source_s_features_and_pairs_strategies_on_one_pool(tmp_path):
    result = run_sweep(_sweep(), tmp_path, inputs=provider)
    [record] = read_sweeps(tmp_path)
    assert sorted(record["features"]) == ["blobs / fake", "other / fake"]
    last = result.rows.sort_values("round").groupby("run_id").tail(1).set_index("run_id")
    counts = _wasted_from_selections(tmp_path, result.rows)
    assert last["n_wasted_queries"].to_dict() == counts
    ideal = last[last["scenario"] == ""]
    assert (ideal["n_wasted_queries"] == 0).all() and (ideal["pool_size"] == 120).all()
    mixed = last[last["scenario"] == SOURCE]
    assert (mixed["pool_size"] == 120 + WANTED).all() and mixed["n_wasted_queries"].sum() > 0
    initial = {}
    for run_id, row in mixed.iterrows():  # every strategy of a seed meets the same pool
        picks = json.loads(run_selections_path(tmp_path, run_id).read_text())
        initial.setdefault(row["seed"], []).append(picks["initial"])
    assert all(sets[0] == sets[1] for sets in initial.values())


def test_on_dask_the_joined_inputs_travel_once_and_give_the_local_results(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    from albench.backends import DaskBackend
    from albench.sweep import run_sweep as sweep_locally

    scattered = []
    original = Client.scatter

    def counting_scatter(self, data, *args, **kwargs):
        scattered.append(len(data.pool_labels))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(Client, "scatter", counting_scatter)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None,
    ) as cluster:  # fmt: skip
        backend = DaskBackend(scheduler=cluster.scheduler_address)
        on_dask = run_sweep(_sweep(), tmp_path / "dask", backend=backend, inputs=provider)
    local = sweep_locally(_sweep(), tmp_path / "local", inputs=provider)
    assert sorted(scattered) == [120, 120 + 200]  # the plain inputs, and the joined ones
    columns = ["run_id", "round", "accuracy", "n_wasted_queries", "n_labelled"]
    order = ["run_id", "round"]
    pd.testing.assert_frame_equal(
        on_dask.rows[columns].sort_values(order).reset_index(drop=True),
        local.rows[columns].sort_values(order).reset_index(drop=True),
    )


def test_joined_image_splits_read_the_dataset_s_images_then_the_source_s():
    split = JoinedSplit(["a0", "a1"], ["b0", "b1", "b2"])
    assert len(split) == 5 and [split[i] for i in range(5)] == ["a0", "a1", "b0", "b1", "b2"]


def test_the_cli_runs_digits_with_fashion_mnist_images_and_records_wasted_queries(
    tmp_path, capsys, tiny_digits_cache
):
    from albench.cli import main

    out = tmp_path / "out"
    status = main(
        [
            "run", "--dataset", "digits", "--backbone", "tiny-clip", "--learner", "zero-shot",
            "--strategy", "random", "--seeds", "0", "--rounds", "2", "--pool-subsample", "400",
            "--scenario", "open-set(ratio=0.2, source=fashion-mnist-mini)", "--out", str(out),
        ]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    rows = load(out)
    assert set(rows["scenario"]) == {"open-set(ratio=0.2, source=fashion-mnist-mini)"}
    assert set(rows["test_size"]) == {450} and set(rows["n_classes"]) == {10}
    [run_id] = rows["run_id"].unique()
    picks = json.loads(run_selections_path(out, run_id).read_text())
    queried = picks["initial"] + [i for r in picks["rounds"] for i in r["indices"]]
    wasted = sum(index >= 1347 for index in queried)  # digits has 1,347 pool images
    assert rows.sort_values("round")["n_wasted_queries"].iloc[-1] == wasted > 0
    [record] = read_sweeps(out)
    assert "fashion-mnist-mini / tiny-clip" in record["features"]


def test_references_size_the_pool_from_runs_whose_pool_is_their_dataset_s_own(
    monkeypatch, tmp_path
):
    from albench import reference

    seen = {}

    def capture(spec, pool_sizes):
        seen.update(pool_sizes)
        return {}

    monkeypatch.setattr(reference, "reference_specs", capture)
    rows = pd.DataFrame(
        {
            "dataset": ["d", "d", "d", "e"],
            "pool_size": [100, 150, 80, 40],
            "scenario": ["", SOURCE, None, SOURCE],
        }
    )
    reference.references(tmp_path, [{"spec": {}}], rows, compute=False)
    assert seen == {"d": 100}  # e's only pool was joined by another dataset's images


def test_a_noisy_annotator_leaves_foreign_images_without_a_label():
    scenario = f"noisy-oracle(rate=0.5)+{SOURCE}"
    task = _task(_spec(scenario=scenario))
    assert (task.revealed[120:] == OUTSIDE).all() and len(task.pool) == 120 + WANTED
    inside = task.labels[:120]
    assert 0.3 < np.mean(task.revealed[:120] != inside) < 0.7
    rows = run(_spec(scenario=scenario), spec_inputs(_spec(scenario=scenario), provider)).rows
    assert (rows["n_wrong_labels"] <= rows["n_labelled"] - rows["n_wasted_queries"]).all()
