"""Uncertainty scores (and PCB's pseudo-labels) over row blocks: the picks of the whole
matrix, without the matrix."""

from __future__ import annotations

import numpy as np
import pytest

from albench.capabilities import GradEmbedding
from albench.kernels.blocks import row_block
from albench.strategies import StrategyContext, get_strategy

N_POOL, N_CLASSES = 1000, 4096  # 256 rows a block: four blocks and a remainder


def _probabilities() -> np.ndarray:
    logits = np.random.default_rng(3).normal(size=(N_POOL, N_CLASSES)).astype(np.float32)
    logits[::7, :2] += 4.0  # some confident rows, so that scores spread
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def _context(**providers) -> StrategyContext:
    labelled = np.arange(0, N_POOL, 50)
    return StrategyContext(
        features=np.zeros((N_POOL, 4), dtype=np.float32),
        labelled=labelled,
        labelled_labels=np.zeros(len(labelled), dtype=np.int64),
        n_classes=N_CLASSES,
        **providers,
    )


@pytest.mark.parametrize(
    "name", ["entropy", "margin", "least-confidence", "pcb(entropy)", "pcb(margin, candidates=8)"]
)
def test_blocked_scores_pick_what_the_whole_matrix_picks(name):
    probabilities = _probabilities()
    asked: list[int] = []

    def rows(indices: np.ndarray) -> np.ndarray:
        asked.append(len(indices))
        return probabilities[indices]

    def whole() -> np.ndarray:
        raise AssertionError("the whole probability matrix was computed")

    strategy = get_strategy(name)
    blocked = strategy.select(
        _context(providers={"probabilities": whole}, row_providers={"probabilities": rows}),
        25,
        np.random.default_rng(0),
    )
    reference = strategy.select(
        _context(providers={"probabilities": lambda: probabilities}), 25, None
    )
    np.testing.assert_array_equal(blocked.indices, reference.indices)
    np.testing.assert_array_equal(blocked.scores, reference.scores)
    assert max(asked) == row_block(N_CLASSES) == 256
    # the unlabelled rows once for the scores, and PCB's candidates once for their classes
    assert sum(asked) == N_POOL - 20 + blocked.info.get("candidates", 0)


def _factors() -> GradEmbedding:
    probabilities = _probabilities()
    scale = probabilities.copy()
    scale[np.arange(N_POOL), probabilities.argmax(axis=1)] -= 1.0
    x = np.random.default_rng(4).normal(size=(N_POOL, 8)).astype(np.float32)
    return GradEmbedding(scale=scale, x=x / np.linalg.norm(x, axis=1, keepdims=True))


def test_badge_factors_in_blocks_pick_what_the_whole_pool_picks():
    """BADGE asks for the unlabelled rows' factors block by block, never the whole pool's,
    and picks what it picks from the whole pool's factors."""
    factors = _factors()
    asked: list[np.ndarray] = []

    def rows(indices: np.ndarray) -> GradEmbedding:
        asked.append(np.asarray(indices))
        return factors[indices]

    def whole() -> GradEmbedding:
        raise AssertionError("the whole pool's factors were computed")

    strategy = get_strategy("badge")
    blocked = strategy.select(
        _context(providers={"grad_embedding": whole}, row_providers={"grad_embedding": rows}),
        25,
        np.random.default_rng(0),
    )
    reference = strategy.select(
        _context(providers={"grad_embedding": lambda: factors}), 25, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(blocked.indices, reference.indices)
    np.testing.assert_array_equal(blocked.scores, reference.scores)
    unlabelled = np.setdiff1d(np.arange(N_POOL), np.arange(0, N_POOL, 50))
    np.testing.assert_array_equal(np.concatenate(asked), unlabelled)
    assert max(len(a) for a in asked) == row_block(N_CLASSES + 4)


def test_per_row_fills_one_array_from_the_blocks_in_row_order():
    probabilities = _probabilities()
    ctx = _context(row_providers={"probabilities": lambda rows: probabilities[rows]})
    rows = np.arange(N_POOL)[::-1].copy()
    top = ctx.per_row("probabilities", rows, N_CLASSES, lambda p: p.argmax(axis=1))
    assert top.dtype == np.int64
    np.testing.assert_array_equal(top, probabilities[rows].argmax(axis=1))
    first_two = ctx.per_row("probabilities", rows, N_CLASSES, lambda p: p[:, :2])
    np.testing.assert_array_equal(first_two, probabilities[rows, :2])
    empty = ctx.per_row("probabilities", rows[:0], N_CLASSES, lambda p: p.argmax(axis=1))
    assert empty.shape == (0,)
