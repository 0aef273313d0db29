"""Broken strategy plugins, loaded through ``tests/bad_plugins.py:Class`` specs.

Each breaks the ``select`` contract in one way. They have no ``name``, so they never enter
the strategy registry; the runner treats them as plugins (defined outside albench).
"""

from __future__ import annotations

import time

import numpy as np

from albench.strategies.base import Selection, Strategy, StrategyContext

#: labelled samples in round 3 of the test sweeps (3 classes, 1/class initial and budget)
ROUND_3_LABELLED = 9


class Raises(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        raise ValueError("no centroids to rank")


class Duplicates(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=np.repeat(ctx.unlabelled[:1], budget))


class OutOfRange(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=np.append(ctx.unlabelled[: budget - 1], ctx.n_pool))


class AlreadyLabelled(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=np.append(ctx.unlabelled[: budget - 1], ctx.labelled[0]))


class TooMany(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=ctx.unlabelled[: budget + 1].copy())


class TooFew(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=ctx.unlabelled[: budget - 1].copy())


class Floats(Strategy):
    """1.5, 3.5, ...: ``np.asarray(indices, int64)`` would truncate them to valid indices."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=ctx.unlabelled[:budget] + 0.5)


class NotASelection(Strategy):
    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return ctx.unlabelled[:budget].tolist()  # type: ignore[return-value]


class BadPseudoLabels(Strategy):
    """Valid picks, but a pseudo-label outside the classes."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        rest = ctx.unlabelled[budget : budget + 2]
        return Selection(
            indices=ctx.unlabelled[:budget].copy(),
            pseudo_indices=rest,
            pseudo_labels=np.array([0, ctx.n_classes]),
        )


class HangsInRound3(Strategy):
    """Instant in rounds 1-2, then sleeps far beyond any limit (a hang)."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        if len(ctx.labelled) >= ROUND_3_LABELLED:
            time.sleep(60)
        return Selection(indices=ctx.unlabelled[:budget].copy())
