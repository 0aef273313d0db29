"""Pools of ImageNet's size: one selection of every built-in strategy, one linear-probe fit.

At N = 100k, 320k and 1.28M pool rows (C = 1,000, d = 512, one label per class, B = C;
``benchmarks.inputs.SCALE_SIZES``, chosen by ``ALBENCH_BENCH_SCALE_SIZES``, default 100k),
each strategy selects through the runner's own code path: a fitted ``linear`` learner whose
outputs the context takes from ``albench.runner``'s providers (probabilities and the other
row-wise outputs computed in row blocks on demand) and ``albench.guard``'s checks. Every
case records its seconds, its peak resident growth (reported against the float32 feature
matrix) and the N x d x C fp32 GEMM of the same pool, timed in the same run in row blocks:
the floor of a round, since one pass of the learner over the pool costs that much.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from albench.capabilities import (
    CORRECTNESS_PROB,
    IMAGE_FEATURES,
    MC_PROBABILITIES,
    TEXT_EMBEDDINGS,
)
from albench.guard import SelectGuard
from albench.learners.base import Learner, LearnerContext
from albench.learners.registry import make_learner
from albench.runner import _providers, _row_providers
from albench.strategies import StrategyContext, get_strategy
from benchmarks import plan
from benchmarks.inputs import FEATURE_DIM, SCALE_SIZES, ScaleSize, class_centres, clip_like_rows
from benchmarks.measure import run_case

#: the linear learner's dropout for strategies that read MC-dropout passes
MC_DROPOUT = 0.2
#: rows per block of the GEMM floor (a 16k x C float32 output block: 64 MB)
GEMM_ROWS = 1 << 14
#: CLIP's logit scale, for the linear probe's zero-shot initial weights
LOGIT_SCALE = 100.0


@lru_cache(maxsize=1)
def pool(size_name: str) -> tuple[np.ndarray, np.ndarray]:
    size = SCALE_SIZES[size_name]
    return clip_like_rows(size.n, size.n_classes)


def learner_context(size: ScaleSize) -> LearnerContext:
    return LearnerContext(
        class_names=tuple(f"class {i}" for i in range(size.n_classes)),
        text_embeddings=class_centres(size.n_classes),
        logit_scale=LOGIT_SCALE,
    )


def fit(size_name: str, dropout: float) -> Learner:
    """A ``linear`` learner fitted on the labelled rows (the first ``n_labelled``)."""
    size = SCALE_SIZES[size_name]
    x, y = pool(size_name)
    options = {"dropout": dropout} if dropout else {}
    learner = make_learner("linear", learner_context(size), options)
    labelled = slice(0, size.n_labelled)
    learner.fit(x[labelled], y[labelled], np.random.default_rng(0))
    return learner


@lru_cache(maxsize=2)
def fitted(size_name: str, dropout: float) -> Learner:
    return fit(size_name, dropout)


class CorrectnessStandIn:
    """The fitted linear probe plus ``correctness_prob``: its top probability.

    dual-prompt's own learner computes p_yes at the predicted class from negative prompts
    through a CLIP text tower, which the scale inputs (feature rows, no model) do not have.
    Its selection reads the same two row-wise outputs at the cost of one pass of the
    learner over the pool, so this measures the strategy's own work at these sizes; its
    picks say nothing about the dual-prompt learner.
    """

    def __init__(self, learner: Learner):
        self.learner = learner
        self.capabilities = learner.capabilities | {CORRECTNESS_PROB}

    def __getattr__(self, name: str):
        return getattr(self.learner, name)

    def correctness_prob(self, features: np.ndarray) -> np.ndarray:
        return self.learner.predict_proba(features).max(axis=1)


def _info(size: ScaleSize, impl: str) -> dict:
    return {
        "kind": "scale",
        "impl": impl,
        "size": size.name,
        "n": size.n,
        "feature_bytes": 4 * size.n * FEATURE_DIM,
        "flops": 2.0 * size.n * FEATURE_DIM * size.n_classes,
    }


@pytest.mark.parametrize("size_name", plan.selected_scale_sizes())
def test_scale_gemm_floor(benchmark, size_name):
    """N x d x C fp32 GEMM of the pool against a class matrix, in row blocks (torch)."""
    size = SCALE_SIZES[size_name]
    x = torch.from_numpy(pool(size_name)[0])
    w = torch.from_numpy(class_centres(size.n_classes))

    def gemm() -> None:
        for start in range(0, size.n, GEMM_ROWS):
            x[start : start + GEMM_ROWS] @ w.T

    run_case(benchmark, gemm, rounds=3, info=_info(size, "gemm floor"))


@pytest.mark.parametrize("size_name", plan.selected_scale_sizes())
def test_scale_fit_linear(benchmark, size_name):
    """One fit of the ``linear`` learner on the labelled rows (L-BFGS, as a round runs it)."""
    size = SCALE_SIZES[size_name]
    pool(size_name)
    run_case(benchmark, lambda: fit(size_name, 0.0), rounds=1, info=_info(size, "fit linear"))


@pytest.mark.parametrize("size_name", plan.selected_scale_sizes())
@pytest.mark.parametrize("spec", plan.selected_scale_strategies(plan.built_in_specs()))
def test_scale_selection(benchmark, size_name, spec):
    """One selection of ``spec`` with the context a round of the runner builds."""
    if spec in plan.SCALE_LEFT_OUT:
        pytest.skip(plan.SCALE_LEFT_OUT[spec])
    strategy = get_strategy(spec)
    size = SCALE_SIZES[size_name]
    learner = fitted(size_name, MC_DROPOUT if MC_PROBABILITIES in strategy.needs else 0.0)
    if CORRECTNESS_PROB in strategy.needs:
        learner = CorrectnessStandIn(learner)
    missing = strategy.needs - learner.capabilities - {IMAGE_FEATURES, TEXT_EMBEDDINGS}
    if missing:
        pytest.skip(f"the linear learner lacks {', '.join(sorted(missing))}")
    x, y = pool(size_name)
    labelled = np.arange(size.n_labelled)
    guard = SelectGuard(strategy, spec, "scale", size.n, size.n_classes)

    def select():
        ctx = StrategyContext(
            features=x,
            labelled=labelled,
            labelled_labels=y[labelled],
            n_classes=size.n_classes,
            providers=_providers(learner, x, class_centres(size.n_classes)),
            row_providers=_row_providers(learner, x),
        )
        return guard.select(ctx, size.budget, np.random.default_rng(0), 1)

    picked = run_case(benchmark, select, rounds=1, info=_info(size, spec))
    assert picked.indices.size == size.budget
    if "pool_sample" in picked.info:
        benchmark.extra_info["pool_sample"] = picked.info["pool_sample"]
    if isinstance(learner, CorrectnessStandIn):
        benchmark.extra_info["stand_in"] = "correctness_prob: the linear probe's top probability"
