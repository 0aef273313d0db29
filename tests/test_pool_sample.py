"""The large-pool rules of TypiClust, ProbCover, LoGo, CB+SQ, MaxHerding and Uncertainty
Herding: nothing changes at or below ``max_pool`` unlabelled rows; above it, the picks are the
strategy's picks on the labelled rows plus a seeded uniform draw of unlabelled rows."""

from __future__ import annotations

import numpy as np
import pytest
from runner_fakes import make_inputs, one_thread  # noqa: F401

from albench.capabilities import GradEmbedding
from albench.errors import AlbenchError
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec, revisions
from albench.strategies import StrategyContext, get_strategy
from albench.strategies.max_herding import candidate_count

N_POOL, N_CLASSES, BUDGET = 240, 4, 6
LABELLED = np.arange(0, N_POOL, 12)  # 20 labelled rows, 220 unlabelled
N_UNLABELLED = N_POOL - LABELLED.size
TEXT = np.random.default_rng(8).normal(size=(N_CLASSES, 8))
STRATEGIES = ["typiclust", "probcover", "logo", "cb-sq", "max-herding", "uncertainty-herding"]


def _pool() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(N_CLASSES, 8))
    labels = rng.integers(N_CLASSES, size=N_POOL)
    x = (centres[labels] + 0.4 * rng.normal(size=(N_POOL, 8))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = 3.0 * x @ (centres / np.linalg.norm(centres, axis=1, keepdims=True)).T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return x, (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _context(rows: np.ndarray | None = None, asked: list[int] | None = None) -> StrategyContext:
    """The pool (or only ``rows`` of it), with probabilities served by row blocks."""
    x, p = _pool()
    rows = np.arange(N_POOL) if rows is None else rows

    def on_rows(indices: np.ndarray) -> np.ndarray:
        if asked is not None:
            asked.extend(rows[indices].tolist())
        return p[rows][indices]

    def factors(indices: np.ndarray) -> GradEmbedding:
        if asked is not None:
            asked.extend(rows[indices].tolist())
        scale = p[rows][indices].copy()
        scale[np.arange(indices.size), scale.argmax(axis=1)] -= 1.0
        return GradEmbedding(scale=scale, x=x[rows][indices])

    return StrategyContext(
        features=x[rows],
        labelled=np.searchsorted(rows, LABELLED),
        labelled_labels=_pool()[1][LABELLED].argmax(axis=1),
        n_classes=N_CLASSES,
        providers={
            "text_embeddings": lambda: TEXT,
            "probabilities": lambda: p[rows],
            "grad_embedding": lambda: factors(np.arange(rows.size)),
        },
        row_providers={"probabilities": on_rows, "grad_embedding": factors},
    )


def _select(spec: str, seed: int = 0, ctx: StrategyContext | None = None):
    rng = np.random.default_rng(seed)
    picked = get_strategy(spec).select(ctx or _context(), BUDGET, rng)
    return picked, rng


@pytest.mark.parametrize("name", STRATEGIES)
def test_at_the_threshold_nothing_is_drawn(name):
    default, default_rng = _select(name)
    at, at_rng = _select(f"{name}(max_pool={N_UNLABELLED})")
    np.testing.assert_array_equal(at.indices, default.indices)
    np.testing.assert_array_equal(at.scores, default.scores)
    assert "pool_sample" not in at.info and "pool_sample" not in default.info
    assert at_rng.bit_generator.state == default_rng.bit_generator.state


def _drawn(size: int, seed: int) -> np.ndarray:
    """The rows the rule keeps: the labelled ones plus the first draw of the strategy rng."""
    unlabelled = np.setdiff1d(np.arange(N_POOL), LABELLED)
    drawn = np.random.default_rng(seed).choice(unlabelled, size=size, replace=False)
    return np.union1d(LABELLED, drawn)


@pytest.mark.parametrize("name", ["typiclust", "probcover", "logo", "cb-sq"])
@pytest.mark.parametrize("seed", [0, 1])
def test_above_max_pool_the_picks_are_those_of_the_drawn_rows(name, seed):
    asked: list[int] = []
    picked, _ = _select(f"{name}(max_pool=60)", seed, _context(asked=asked))
    rows = _drawn(60, seed)
    # the same strategy on a pool that holds only those rows, its rng after the draw
    rng = np.random.default_rng(seed)
    rng.choice(N_UNLABELLED, size=60, replace=False)
    alone = get_strategy(name).select(_context(rows), BUDGET, rng)
    np.testing.assert_array_equal(picked.indices, rows[alone.indices])
    assert np.isin(picked.indices, np.setdiff1d(rows, LABELLED)).all()
    assert picked.info["pool_sample"] == {"rule": "max_pool", "unlabelled": 60, "of": 220}
    assert set(asked) <= set(rows.tolist())  # learner outputs only of the drawn rows
    again, _ = _select(f"{name}(max_pool=60)", seed)
    np.testing.assert_array_equal(again.indices, picked.indices)


@pytest.mark.parametrize("name", ["max-herding", "uncertainty-herding"])
def test_herding_draws_the_reference_candidate_count(name):
    asked: list[int] = []
    picked, _ = _select(f"{name}(max_pool=50)", 3, _context(asked=asked))
    rows = _drawn(50, 3)  # compute_cand_size(20, 6, 50) = 50
    alone = get_strategy(name).select(_context(rows), BUDGET, np.random.default_rng(0))
    np.testing.assert_array_equal(picked.indices, rows[alone.indices])
    np.testing.assert_allclose(picked.scores, alone.scores)
    assert picked.info["pool_sample"] == {"rule": "compute_cand_size", "unlabelled": 50, "of": 220}
    if name == "uncertainty-herding":  # probabilities only of the rows it works on
        assert set(asked) <= set(rows.tolist())
    other, _ = _select(f"{name}(max_pool=50)", 4)
    assert not np.array_equal(other.indices, picked.indices)


def test_candidate_count_is_the_reference_formula():
    # int(sqrt(45000^2 + s^2 / 4) - 1.5 s), s = l + B, at most max_size, at least B
    assert candidate_count(0, 10, 35_000) == 35_000
    assert candidate_count(9_000, 1_000, 35_000) == 30_276
    assert candidate_count(39_000, 1_000, 35_000) == 1_000
    assert candidate_count(20, 6, 50) == 50


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_a_bad_max_pool_is_one_error(name, value):
    with pytest.raises(AlbenchError, match="max_pool"):
        get_strategy(f"{name}(max_pool={value})")


def test_each_change_of_behaviour_has_its_revision_and_so_new_run_ids():
    assert revisions("linear", "probcover") == {}
    for name in ["max-herding", "uncertainty-herding"]:
        assert revisions("linear", name) == {f"strategy:{name}": 2}
    assert revisions("linear", "typiclust") == {"strategy:typiclust": 3}
    assert revisions("linear", "tcm") == {"strategy:tcm": 2}
    assert revisions("linear", "logo") == {"strategy:logo": 3}  # 3: its entropy in float64
    assert revisions("linear", "cb-sq") == {"strategy:cb-sq": 2}


@pytest.mark.usefixtures("one_thread")
def test_the_draw_lands_in_the_runs_selections_record():
    inputs = make_inputs()
    protocol = Protocol(rounds=2)
    sampled = run(
        RunSpec("blobs", "fake", "linear", "probcover(max_pool=40)", 0, protocol=protocol), inputs
    )
    whole = run(RunSpec("blobs", "fake", "linear", "probcover", 0, protocol=protocol), inputs)
    rounds = sampled.selections["rounds"]
    assert len(rounds) == 2
    for record in rounds:
        sample = record["info"]["pool_sample"]
        assert sample["rule"] == "max_pool" and sample["unlabelled"] == 40 < sample["of"]
    assert all("pool_sample" not in record["info"] for record in whole.selections["rounds"])


def test_pseudo_labels_of_a_sample_are_pool_rows():
    picked, _ = _select("cb-sq(max_pool=60)", 2)
    rows = _drawn(60, 2)
    rng = np.random.default_rng(2)
    rng.choice(N_UNLABELLED, size=60, replace=False)
    alone = get_strategy("cb-sq").select(_context(rows), BUDGET, rng)
    assert alone.pseudo_indices.size > 0
    np.testing.assert_array_equal(picked.pseudo_indices, rows[alone.pseudo_indices])
    np.testing.assert_array_equal(picked.pseudo_labels, alone.pseudo_labels)
    assert not np.isin(picked.pseudo_indices, LABELLED).any()
