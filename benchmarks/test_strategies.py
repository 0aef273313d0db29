"""One selection of the field's newer strategies: albench against a plain implementation.

Each strategy selects the size's budget from the synthetic pool of benchmarks/inputs.py
through the registry, as a run would (the context's capabilities are the pool's features,
its probabilities, and the linear head that produces them); its plain counterpart
(benchmarks/references/strategies.py) runs the same algorithm the way its reference code
does. Plain implementations that hold an N x N or N x (C*d) matrix, or loop per sample, run
where docs/benchmarks.md says (`PLAIN_SIZES`), as their time and memory allow; runs of an
hour or more at M are added by name (`ALBENCH_BENCH_PLAIN_AT_M`, see :func:`plain_sizes`).

BatchBALD runs apart (`test_batch_bald`): past the exact range each pick costs about
M x T x N x C multiply-adds for albench and its reference alike (M sampled configurations),
hours per selection at S at the reference's T = 100 and M = 100,000, so it selects 5 picks
with T = 20 and M = 2,000, at S, and at M when ``ALBENCH_BENCH_PLAIN_AT_M`` names it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from albench.strategies import get_strategy
from benchmarks import plan
from benchmarks.inputs import SIZES, Size, class_centres
from benchmarks.measure import run_case
from benchmarks.references import strategies as plain
from benchmarks.references.cb_sq_plain import cb_sq_plain
from benchmarks.references.uherding_full_matrix import uherding_full_matrix
from benchmarks.strategy_inputs import context, mc_passes, pool


@pytest.fixture(autouse=True, scope="module")
def _libraries_warm() -> None:
    """scikit-learn and scipy imported and their thread pools started before any timed
    round: otherwise whichever side calls them first in a process pays seconds of start-up
    (albench's kernels import them on first use)."""
    import scipy.cluster.hierarchy
    import scipy.spatial.distance
    import scipy.special  # noqa: F401
    from sklearn.cluster import KMeans, MiniBatchKMeans

    points = np.random.default_rng(0).random((64, 4))
    KMeans(n_clusters=2, n_init=1, random_state=0).fit(points)
    MiniBatchKMeans(n_clusters=2, n_init=1, random_state=0).fit(points)


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


def named_at_m() -> list[str]:
    """The names in ``ALBENCH_BENCH_PLAIN_AT_M`` (separated by ``;``): long runs at M (a
    quarter of an hour to over an hour each), kept out of ``make bench``."""
    return os.environ.get("ALBENCH_BENCH_PLAIN_AT_M", "").split(";")


def plain_sizes(spec: str) -> tuple[str, ...]:
    """``PLAIN_SIZES[spec]``, plus M for the specs :func:`named_at_m`."""
    return (*PLAIN_SIZES[spec], "M") if spec in named_at_m() else PLAIN_SIZES[spec]


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
    if size_name not in plain_sizes(spec):
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


def batch_bald_sizes() -> tuple[str, ...]:
    """S, plus M when ``batch-bald`` is :func:`named_at_m` (each pick scores 45,000
    candidates against 2,000 configurations: 164 s and 590 s for the pair on 2 cores,
    ``benchmarks/runs/29-strategies-batch-bald.json``)."""
    return ("S", "M") if "batch-bald" in named_at_m() else ("S",)


@pytest.mark.parametrize("size_name", ["S", "M"])
@pytest.mark.parametrize("impl", ["albench", "plain"])
def test_batch_bald(benchmark, impl, size_name):
    if size_name not in plan.selected_sizes() or size_name not in batch_bald_sizes():
        pytest.skip(f"BatchBALD runs at {', '.join(batch_bald_sizes())}")
    size = SIZES[size_name]
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
