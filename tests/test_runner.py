"""The round loop on synthetic features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401

from albench.errors import CapabilityError, InvalidSpecError
from albench.initial import kmeans_initial
from albench.kernels import unit_rows
from albench.learners import LearnerContext, make_learner
from albench.protocol import Protocol
from albench.runner import SelectionError, check_spec, run
from albench.seeding import stream
from albench.specs import RunSpec

INPUTS = make_inputs()
pytestmark = pytest.mark.usefixtures("one_thread")


def _spec(**changes) -> RunSpec:
    """A run on the synthetic blobs; protocol fields may be given among the changes."""
    fields = dict(dataset="blobs", backbone="fake", learner="linear", strategy="random", seed=0)
    fields.update(rounds=3, budget="1/class", initial_size="1/class")
    fields.update(changes)
    protocol = {key: fields.pop(key) for key in list(fields) if key in Protocol.__annotations__}
    return RunSpec(**fields, protocol=Protocol(**protocol))


def _all_picks(result) -> np.ndarray:
    rounds = [record["indices"] for record in result.selections["rounds"]]
    return np.concatenate([result.selections["initial"], *rounds]).astype(int)


def test_initial_set_shared_across_strategies_and_not_across_seeds():
    a = run(_spec(strategy="random"), INPUTS)
    b = run(_spec(strategy="entropy", learner="linear"), INPUTS)
    c = run(_spec(strategy="random", seed=1), INPUTS)
    assert a.selections["initial"] == b.selections["initial"]
    assert a.rows.loc[0, "accuracy"] == b.rows.loc[0, "accuracy"]
    assert a.selections["initial"] != c.selections["initial"]
    assert len(a.selections["initial"]) == 4


def test_labelled_set_grows_by_the_budget_without_repeats():
    result = run(_spec(budget="2/class", rounds=4), INPUTS)
    rows = result.rows
    assert rows["round"].tolist() == [0, 1, 2, 3, 4]
    assert rows["n_labelled"].tolist() == [4, 12, 20, 28, 36]
    assert [sum(counts) for counts in rows["labelled_per_class"]] == rows["n_labelled"].tolist()
    picks = _all_picks(result)
    assert len(picks) == 36 and len(np.unique(picks)) == 36
    assert np.isnan(rows.loc[0, "select_seconds"]) and (rows["select_seconds"][1:] >= 0).all()


def test_first_unlabelled_strategy_picks_lowest_free_indices():
    result = run(_spec(strategy=spec_of("FirstUnlabelled"), budget=3, rounds=2), INPUTS)
    initial = set(result.selections["initial"])
    free = [i for i in range(120) if i not in initial]
    assert result.selections["rounds"][0]["indices"] == free[:3]
    assert result.selections["rounds"][1]["indices"] == free[3:6]


def test_row_r_is_the_model_trained_after_r_acquisitions():
    result = run(_spec(strategy="margin", rounds=2), INPUTS)
    pool_x, pool_y = unit_rows(INPUTS.pool_features), INPUTS.pool_labels
    test_x = unit_rows(INPUTS.test_features)
    context = LearnerContext(
        class_names=INPUTS.class_names,
        text_embeddings=INPUTS.text_embeddings,
        logit_scale=INPUTS.logit_scale,
    )
    labelled = list(result.selections["initial"])
    for round_ in range(3):
        if round_:
            labelled += result.selections["rounds"][round_ - 1]["indices"]
        learner = make_learner("linear", context, {})
        learner.fit(pool_x[labelled], pool_y[labelled], stream(0, "learner", "blobs", str(round_)))
        accuracy = (learner.predict_proba(test_x).argmax(1) == INPUTS.test_labels).mean()
        assert result.rows.loc[round_, "accuracy"] == pytest.approx(accuracy)


def test_empty_initial_set_scores_zero_shot_at_round_zero():
    result = run(_spec(initial_size=0, rounds=1), INPUTS)
    context = LearnerContext(INPUTS.class_names, INPUTS.text_embeddings, INPUTS.logit_scale)
    zero_shot = make_learner("zero-shot", context, {}).predict_proba(INPUTS.test_features)
    assert result.rows.loc[0, "n_labelled"] == 0
    assert result.rows.loc[0, "accuracy"] == pytest.approx(
        (zero_shot.argmax(1) == INPUTS.test_labels).mean()
    )
    assert result.rows.loc[1, "n_labelled"] == 4


def test_pseudo_labels_train_but_are_not_counted():
    spec = _spec(strategy=spec_of("ConfidentPseudo"), rounds=2, pseudo_labels=True)
    result = run(spec, INPUTS)
    rows = result.rows
    assert rows["n_labelled"].tolist() == [4, 8, 12]
    assert rows["n_pseudo"].tolist() == [0, 5, 5]
    assert np.isnan(rows.loc[0, "pseudo_accuracy"])
    record = result.selections["rounds"][1]
    truth = INPUTS.pool_labels[record["pseudo_indices"]]
    assert rows.loc[2, "pseudo_accuracy"] == pytest.approx(
        (truth == np.array(record["pseudo_labels"])).mean()
    )
    assert not set(record["pseudo_indices"]) & set(_all_picks(result).tolist())
    off = run(replace(spec, protocol=replace(spec.protocol, pseudo_labels=False)), INPUTS)
    assert off.rows["n_pseudo"].tolist() == [0, 0, 0]


def test_capability_mismatch_raises_before_any_work():
    spec = _spec(dataset="no-such-dataset", strategy=spec_of("NeedsCorrectness"))
    with pytest.raises(CapabilityError, match=r"correctness_prob.*'linear'"):
        check_spec(spec)
    with pytest.raises(CapabilityError, match=r"correctness_prob.*'linear'"):
        run(spec, INPUTS)


def test_invalid_selection_and_oversized_budget_are_refused():
    with pytest.raises(SelectionError, match="already labelled"):
        run(_spec(strategy=spec_of("Repeats")), INPUTS)
    with pytest.raises(InvalidSpecError, match="exceeds the pool of 120"):
        run(_spec(budget="10/class"), INPUTS)
    with pytest.raises(InvalidSpecError, match="k/class"):
        _spec(budget="1/klass")


def test_pool_subsample_limits_the_pool_and_maps_indices_back():
    result = run(_spec(pool_subsample=50, rounds=2), INPUTS)
    assert result.rows["pool_size"].unique().tolist() == [50]
    picks = _all_picks(result)
    rng = stream(0, "subsample", "blobs", "50")
    subset = np.sort(rng.choice(120, size=50, replace=False))
    assert set(picks.tolist()) <= set(subset.tolist())


def test_kmeans_initial_takes_one_point_per_tight_cluster():
    centres = np.eye(3, 5) * 10
    features = np.repeat(centres, 4, axis=0) + np.linspace(0, 0.01, 12)[:, None]
    picks = kmeans_initial(features, 3, np.random.default_rng(0))
    assert sorted(picks // 4) == [0, 1, 2]
    result = run(_spec(initial="zero-shot-kmeans", rounds=1), INPUTS)
    assert len(set(result.selections["initial"])) == 4


def test_run_id_is_stable_and_ignores_data_root():
    spec = _spec()
    assert spec.run_id == _spec().run_id == _spec(data_root="/elsewhere").run_id
    assert spec.run_id != _spec(seed=1).run_id
    assert spec.run_id != _spec(learner_options={"warm_start": True}).run_id
    assert len(spec.run_id) == 16 and int(spec.run_id, 16) >= 0
    assert _spec(budget=8).protocol.budget == "8"
    assert _spec(budget=" 2/class").protocol.budget == "2/class"
