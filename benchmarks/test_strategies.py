"""One selection of the field's newer strategies: albench against a plain implementation.

Each strategy selects the size's budget from the synthetic pool of benchmarks/inputs.py
through the registry, as a run would (the context's capabilities are the pool's features,
its probabilities, and the linear head that produces them); its plain counterpart
(benchmarks/references/strategies.py) runs the same algorithm the way its reference code
does. Plain implementations that hold an N x N or N x (C*d) matrix, or loop per sample, run
where docs/benchmarks.md says (`PLAIN_SIZES`), as their time and memory allow.

BatchBALD runs apart (`test_batch_bald`): past the exact range each pick costs about
M x T x N x C multiply-adds for albench and its reference alike (M sampled configurations),
hours per selection at S at the reference's T = 100 and M = 100,000, so it selects 5 picks
at S with T = 20 and M = 2,000.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from albench.capabilities import (
    EMBED,
    GRAD_EMBEDDING,
    LINEAR_HEAD,
    MC_PROBABILITIES,
    PROBABILITIES,
    TEXT_EMBEDDINGS,
    GradEmbedding,
    LinearHead,
)
from albench.strategies import get_strategy
from albench.strategies.base import StrategyContext
from benchmarks import plan
from benchmarks.inputs import LOGIT_SCALE, SIZES, Size, class_centres, clip_like
from benchmarks.measure import run_case
from benchmarks.references import strategies as plain
from benchmarks.references.cb_sq_plain import cb_sq_plain
from benchmarks.references.uherding_full_matrix import uherding_full_matrix

#: dropout rate and passes of the MC-dropout strategies' synthetic learner
DROPOUT, PASSES = 0.2, 100


def pool(size: Size) -> tuple[np.ndarray, np.ndarray, LinearHead, np.ndarray]:
    """Features, probabilities, the head that gives them, and the labelled rows' labels."""
    x, p = clip_like(size.n, size.n_classes)
    head = LinearHead(
        weight=LOGIT_SCALE * class_centres(size.n_classes), bias=np.zeros(size.n_classes)
    )
    return x, p, head, p[: size.n_labelled].argmax(axis=1)


def mc_passes(size: Size, samples: int = PASSES) -> np.ndarray:
    """(N, T, C) consistent MC-dropout passes of the pool's head: pass t drops the same input
    coordinates of every row (one sampled model per pass), survivors scaled by 1/(1-p)."""
    x, _, head, _ = pool(size)
    masks = np.random.default_rng(1).random((samples, x.shape[1])) >= DROPOUT
    out = np.empty((size.n, samples, size.n_classes), dtype=np.float32)
    for t, mask in enumerate(masks):
        out[:, t] = head.probabilities(x * (mask / (1.0 - DROPOUT)))
    return out


def context(size: Size) -> StrategyContext:
    x, p, head, labels = pool(size)
    scale = p.copy()
    scale[np.arange(size.n), p.argmax(axis=1)] -= 1.0
    return StrategyContext(
        features=x,
        labelled=np.arange(size.n_labelled),
        labelled_labels=labels,
        n_classes=size.n_classes,
        providers={
            PROBABILITIES: lambda: p,
            EMBED: lambda: x,
            LINEAR_HEAD: lambda: head,
            GRAD_EMBEDDING: lambda: GradEmbedding(scale=scale, x=x),
            TEXT_EMBEDDINGS: lambda: class_centres(size.n_classes),
            MC_PROBABILITIES: lambda samples: mc_passes(size, samples),
        },
    )


#: strategy spec -> its plain counterpart
PLAIN: dict[str, Callable[[Size], np.ndarray]] = {}


def _plain(spec: str):
    def register(fn: Callable[[Size], np.ndarray]) -> Callable[[Size], np.ndarray]:
        PLAIN[spec] = fn
        return fn

    return register


@_plain("max-herding")
def _max_herding(size: Size) -> np.ndarray:
    x, _, _, _ = pool(size)
    return plain.max_herding_kernel_matrix(x, np.arange(size.n_labelled), size.budget)


@_plain("dropquery")
def _dropquery(size: Size) -> np.ndarray:
    x, _, head, _ = pool(size)
    return plain.dropquery_plain(x, head, np.arange(size.n_labelled), size.budget)


@_plain("alfa-mix")
def _alfa_mix(size: Size) -> np.ndarray:
    x, _, head, labels = pool(size)
    return plain.alfa_mix_per_sample(x, head, labels, np.arange(size.n_labelled), size.budget)


@_plain("logo")
def _logo(size: Size) -> np.ndarray:
    x, p, _, _ = pool(size)
    return plain.logo_materialised(x, p, np.arange(size.n_labelled), size.budget)


@_plain("cluster-margin")
def _cluster_margin(size: Size) -> np.ndarray:
    x, p, _, _ = pool(size)
    return plain.cluster_margin_whole_pool(x, p, np.arange(size.n_labelled), size.budget)


@_plain("tcm(labels_per_class=100)")
def _tcm(size: Size) -> np.ndarray:
    """Below 100 labels per class (S: 10, M: 50) TCM runs TypiClust: its plain form."""
    x, _, _, _ = pool(size)
    return plain.typiclust_plain(x, np.arange(size.n_labelled), size.budget)


@_plain("uncertainty-herding")
def _uncertainty_herding(size: Size) -> np.ndarray:
    x, p, _, labels = pool(size)
    return uherding_full_matrix(x, p, np.arange(size.n_labelled), labels, size.budget)


@_plain("cb-sq")
def _cb_sq(size: Size) -> np.ndarray:
    x, p, _, labels = pool(size)
    text = class_centres(size.n_classes)
    queried, _ = cb_sq_plain(x, p, text, np.arange(size.n_labelled), labels, size.budget)
    return np.asarray(queried, dtype=np.int64)


@_plain("bald")
def _bald(size: Size) -> np.ndarray:
    return plain.bald_full_tensor(mc_passes(size), np.arange(size.n_labelled), size.budget)


@_plain("power-bald")
def _power_bald(size: Size) -> np.ndarray:
    return plain.power_bald_full_tensor(mc_passes(size), np.arange(size.n_labelled), size.budget)


#: sizes each plain implementation runs at (the others: memory or time, see plan.NEEDS)
PLAIN_SIZES = {
    "max-herding": ("S",),
    "dropquery": ("S", "M"),
    "alfa-mix": ("S",),
    "logo": ("S",),
    "cluster-margin": ("S",),
    "tcm(labels_per_class=100)": ("S", "M"),
    "uncertainty-herding": ("S",),
    "cb-sq": ("S",),
    "bald": ("S", "M"),
    "power-bald": ("S", "M"),
}


def _info(spec: str, size: Size, impl: str) -> dict:
    return {
        "kind": "strategy",
        "strategy": spec,
        "impl": impl,
        "size": size.name,
        "n": size.n,
        "budget": size.budget,
        "input_bytes": plan.feature_bytes(size),
    }


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("spec", list(PLAIN))
def test_strategy_albench(benchmark, spec, size_name):
    if size_name == "L":
        pytest.skip("sizes S and M (time budget of make bench)")
    size = SIZES[size_name]
    ctx = context(size)
    strategy = get_strategy(spec)
    selection = run_case(
        benchmark,
        lambda: strategy.select(ctx, size.budget, np.random.default_rng(0)),
        rounds=plan.rounds(reference=True),
        info=_info(spec, size, f"albench {spec}"),
    )
    assert np.unique(selection.indices).size == size.budget
    assert not np.isin(selection.indices, ctx.labelled).any()


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("spec", list(PLAIN))
def test_strategy_plain(benchmark, spec, size_name):
    if size_name not in PLAIN_SIZES[spec]:
        pytest.skip("plain implementation not run at this size (memory or time)")
    size = SIZES[size_name]
    picks = run_case(
        benchmark,
        lambda: PLAIN[spec](size),
        rounds=plan.rounds(reference=True),
        info=_info(spec, size, f"plain {spec}"),
    )
    assert np.unique(picks).size == picks.size


#: BatchBALD at S with fewer picks and sampled configurations than the other cases: past
#: the exact range every pick scores N x M x C x T terms (M sampled configurations)
BATCH_BALD = "batch-bald(samples=20, joint_samples=2000)"
BATCH_BALD_PICKS = 5


@pytest.mark.parametrize("impl", ["albench", "plain"])
def test_batch_bald(benchmark, impl):
    if "S" not in plan.selected_sizes():
        pytest.skip("BatchBALD runs at S only")
    size = SIZES["S"]
    if impl == "albench":
        ctx, strategy = context(size), get_strategy(BATCH_BALD)
        call = lambda: strategy.select(ctx, BATCH_BALD_PICKS, np.random.default_rng(0)).indices  # noqa: E731
    else:
        mc = mc_passes(size, 20)
        labelled = np.arange(size.n_labelled)
        call = lambda: plain.batch_bald_redrawn(mc, labelled, BATCH_BALD_PICKS, 2000)  # noqa: E731
    info = {**_info(BATCH_BALD, size, f"{impl} {BATCH_BALD}"), "budget": BATCH_BALD_PICKS}
    picks = run_case(benchmark, call, rounds=plan.rounds(reference=True), info=info)
    assert np.unique(picks).size == BATCH_BALD_PICKS
