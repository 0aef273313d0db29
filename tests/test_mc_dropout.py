"""MC-dropout passes of the linear probe and CLIP-Adapter, and how runs ask for them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from runner_fakes import make_inputs, one_thread  # noqa: F401

from albench.capabilities import MC_PROBABILITIES
from albench.errors import AlbenchError, CapabilityError, InvalidSpecError
from albench.learners import LearnerContext, check_learner, learner_info, make_learner
from albench.learners.mc_dropout import InputDropout
from albench.protocol import Protocol
from albench.runner import _providers, _row_providers, check_spec, run
from albench.specs import RunSpec
from albench.strategies import StrategyContext

pytestmark = pytest.mark.usefixtures("one_thread")
INPUTS = make_inputs()
N_CLASSES = INPUTS.n_classes


def _context() -> LearnerContext:
    return LearnerContext(
        class_names=INPUTS.class_names,
        text_embeddings=INPUTS.text_embeddings,
        logit_scale=INPUTS.logit_scale,
    )


def _fitted(name: str, seed: int = 0, **options):
    learner = make_learner(name, _context(), options)
    labelled = np.arange(0, 40)
    learner.fit(INPUTS.pool_features[labelled], INPUTS.pool_labels[labelled], _rng(seed))
    return learner


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


SHORT = {"linear": {}, "clip-adapter": {"steps": 20}}


@pytest.mark.parametrize("name", sorted(SHORT))
def test_passes_are_probabilities_fixed_per_fit_and_different_across_passes(name):
    learner = _fitted(name, dropout=0.3, **SHORT[name])
    x = INPUTS.pool_features
    mc = learner.mc_probabilities(x, samples=6)
    assert mc.shape == (len(x), 6, N_CLASSES) and mc.dtype == np.float32
    np.testing.assert_allclose(mc.sum(axis=2), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(learner.mc_probabilities(x, samples=6), mc)
    # pass t is one model for every row: any subset of rows sees the same T masks
    np.testing.assert_array_equal(learner.mc_probabilities(x[50:57], samples=6), mc[50:57])
    spread = np.abs(mc - mc[:, :1]).max(axis=(0, 2))
    assert (spread[1:] > 1e-3).all()
    other = _fitted(name, seed=1, dropout=0.3, **SHORT[name]).mc_probabilities(x, samples=6)
    assert np.abs(other - mc).max() > 1e-3


def test_linear_pass_is_the_probe_with_one_input_mask_for_every_row():
    learner = _fitted("linear", dropout=0.5)
    x = INPUTS.pool_features[:30]
    masks = learner._dropout.passes(4, x.shape[1]).numpy()
    head = learner.linear_head(x)
    z = x.astype(np.float32) / np.linalg.norm(x.astype(np.float32), axis=1, keepdims=True)
    mc = learner.mc_probabilities(x, samples=4)
    for t, mask in enumerate(masks):
        np.testing.assert_allclose(mc[:, t], head.probabilities(z * mask), atol=1e-5)


def test_masks_are_inverted_dropout_at_the_rate():
    dropout = InputDropout(0.25)
    dropout.start_fit(_rng(0))
    masks = dropout.passes(400, 100).numpy()
    assert set(np.unique(masks)) == {0.0, np.float32(1 / 0.75)}
    assert abs((masks == 0).mean() - 0.25) < 0.01
    with pytest.raises(RuntimeError, match="rate > 0"):
        InputDropout(0.0).passes(3, 4)


def test_dropout_changes_training_and_is_seeded():
    plain = _fitted("linear")
    dropped = [_fitted("linear", seed=3, dropout=0.5) for _ in range(2)]
    torch.testing.assert_close(dropped[0]._weight, dropped[1]._weight, rtol=0, atol=0)
    assert (dropped[0]._weight - plain._weight).abs().max() > 1e-3
    assert "dropout" not in plain.hyperparameters()
    assert dropped[0].hyperparameters()["dropout"] == 0.5


def test_dropout_options_are_checked_before_a_run():
    with pytest.raises(InvalidSpecError, match=r"dropout is a rate in \[0, 1\)"):
        check_learner("linear", {"dropout": 1.0})
    with pytest.raises(InvalidSpecError, match="needs alpha > 0"):
        check_learner("clip-adapter", {"dropout": 0.2, "alpha": 0.0})
    assert MC_PROBABILITIES not in learner_info("linear").provides({})
    assert MC_PROBABILITIES in learner_info("clip-adapter").provides({"dropout": 0.1})


def _spec(strategy: str, learner: str, **options) -> RunSpec:
    protocol = Protocol(rounds=2, budget="1/class", initial_size="1/class")
    return RunSpec("blobs", "fake", learner, strategy, 0, protocol, learner_options=options)


@pytest.mark.parametrize("strategy", ["bald", "power-bald(beta=2)", "batch-bald(samples=5)"])
def test_a_strategy_needing_passes_is_refused_without_dropout_in_one_line(strategy):
    with pytest.raises(CapabilityError) as error:
        check_spec(_spec(strategy, "linear"))
    message = str(error.value)
    assert isinstance(error.value, AlbenchError) and "\n" not in message
    assert message.endswith("set e.g. linear(dropout=0.2)")
    assert "mc_probabilities" in message
    check_spec(_spec(strategy, "linear", dropout=0.2))
    with pytest.raises(CapabilityError, match=r"mc_probabilities.*'coop'"):
        check_spec(_spec(strategy, "coop"))


def test_run_ids_of_runs_without_dropout_are_unchanged():
    plain = _spec("entropy", "linear")
    assert plain.run_id == _spec("entropy", "linear()").run_id
    assert plain.run_id != _spec("entropy", "linear", dropout=0.2).run_id


def test_the_runner_serves_passes_whole_and_in_row_blocks_alike():
    learner = _fitted("linear", dropout=0.2)
    pool = INPUTS.pool_features
    whole = StrategyContext(
        features=pool,
        labelled=np.arange(4),
        labelled_labels=INPUTS.pool_labels[:4],
        n_classes=N_CLASSES,
        providers=_providers(learner, pool, INPUTS),
    )
    blocked = StrategyContext(
        features=pool,
        labelled=np.arange(4),
        labelled_labels=INPUTS.pool_labels[:4],
        n_classes=N_CLASSES,
        providers={},
        row_providers=_row_providers(learner, pool),
    )
    rows = np.arange(10, 60)
    expected = whole.get(MC_PROBABILITIES, samples=7)[rows]
    (got_rows, got), *rest = list(blocked.blocks(MC_PROBABILITIES, rows, 7, samples=7))
    assert not rest
    np.testing.assert_array_equal(got_rows, rows)
    np.testing.assert_array_equal(got, expected)


def test_a_run_with_bald_is_reproducible():
    spec = _spec("bald(samples=8)", "linear", dropout=0.2)
    first, second = run(spec, INPUTS), run(spec, INPUTS)
    assert first.selections["rounds"] == second.selections["rounds"]
    assert len(first.selections["rounds"]) == 2
