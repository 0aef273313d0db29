"""Synthetic features and small strategies for the runner and sweep tests.

Strategies here have no ``name``: they are used through ``tests/runner_fakes.py:Class``
specs and never enter the strategy registry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from albench.inputs import RunInputs
from albench.strategies.base import Selection, Strategy, StrategyContext

HERE = Path(__file__).resolve().parent
FAKES = HERE / "runner_fakes.py"


@pytest.fixture
def one_thread():
    """Small problems run fastest (and identically) on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def spec_of(class_name: str) -> str:
    return f"{FAKES}:{class_name}"


def make_inputs(
    dataset: str = "blobs",
    backbone: str = "fake",
    data_root: str | None = None,
    *,
    n_pool: int = 120,
    n_test: int = 80,
    n_classes: int = 4,
    dim: int = 12,
) -> RunInputs:
    """Four noisy clusters around perturbed class text embeddings (seeded by the name)."""
    seed = sum(dataset.encode())
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n_classes, dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    centres = text + rng.normal(scale=0.6, size=text.shape)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, n_classes, size=n)
        features = centres[labels] + rng.normal(scale=0.5, size=(n, dim))
        return features.astype(np.float16), labels

    pool_x, pool_y = split(n_pool)
    test_x, test_y = split(n_test)
    return RunInputs(
        pool_features=pool_x,
        pool_labels=pool_y,
        test_features=test_x,
        test_labels=test_y,
        class_names=tuple(f"c{k}" for k in range(n_classes)),
        text_embeddings=text.astype(np.float32),
        logit_scale=30.0,
    )


class FirstUnlabelled(Strategy):
    """The lowest unlabelled indices (hand-checkable)."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=ctx.unlabelled[:budget].copy())


class RecordsLabels(Strategy):
    """The lowest unlabelled indices; records the labelled set's labels it was shown."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        shown = {"labelled_labels": ctx.labelled_labels.tolist()}
        return Selection(indices=ctx.unlabelled[:budget].copy(), info=shown)


class ConfidentPseudo(Strategy):
    """Random picks; proposes the 5 most confident unlabelled samples as pseudo-labels."""

    needs = frozenset({"probabilities"})

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        picks = rng.choice(ctx.unlabelled, size=budget, replace=False)
        probs = ctx.probabilities()
        rest = np.setdiff1d(ctx.unlabelled, picks)
        confident = rest[np.argsort(-probs[rest].max(1), kind="stable")[:5]]
        return Selection(
            indices=picks,
            pseudo_indices=confident,
            pseudo_labels=probs[confident].argmax(1),
            info={"score": float("nan")},
        )


class NeedsCorrectness(Strategy):
    """Needs the learner's correctness probability (only dual-prompt provides it)."""

    needs = frozenset({"correctness_prob", "probabilities"})

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        raise AssertionError("never reached: the capability check comes first")


class Repeats(Strategy):
    """A broken strategy: picks an already labelled index."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        return Selection(indices=np.concatenate([ctx.labelled[:1], ctx.unlabelled[: budget - 1]]))


class RecordsArithmetic(Strategy):
    """The lowest unlabelled indices; records the float32 matmul precision it selected under
    and the device its context names."""

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        seen = {"precision": torch.get_float32_matmul_precision(), "device": ctx.device}
        return Selection(indices=ctx.unlabelled[:budget].copy(), info=seen)
