"""cb-sq and uncertainty-herding: one whole selection against a plain implementation.

Each strategy's ``select`` is timed beside a straightforward numpy / scikit-learn version of
the same algorithm (``benchmarks/references/cb_sq_plain.py``,
``benchmarks/references/uherding_full_matrix.py``) on the same inputs in the same run; the
reference case records the ratio of the two medians (``speedup``: reference / albench) in
its ``extra_info`` and prints it. The labelled rows (the first ``n_labelled``) take their
predicted class as label, and the class text embeddings are the class means of the
features. One timed round per case: a selection at S takes about a minute.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from albench.strategies import StrategyContext, get_strategy
from benchmarks import plan
from benchmarks.inputs import SIZES, Size, clip_like
from benchmarks.measure import run_case
from benchmarks.references.cb_sq_plain import cb_sq_plain
from benchmarks.references.uherding_full_matrix import uherding_full_matrix

#: albench's median per (strategy, size), for the ratio the reference case records
MEDIANS: dict[tuple[str, str], float] = {}
#: working set of each reference: the N x N float32 kernel and two temporaries of its size;
#: full k-means into 4C + |L| clusters is only timed at S (minutes per iteration at M)
NEEDS = {"uncertainty-herding": lambda s: 3 * plan.F32 * s.n * s.n, "cb-sq": lambda s: 0}
REFERENCE_SIZES = {"uncertainty-herding": ("S",), "cb-sq": ("S",)}


@lru_cache(maxsize=2)
def _inputs(size: Size) -> dict[str, np.ndarray]:
    features, probs = clip_like(size.n, size.n_classes)
    predicted = probs.argmax(axis=1)
    text = np.zeros((size.n_classes, features.shape[1]), dtype=np.float32)
    np.add.at(text, predicted, features)
    text /= np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    labelled = np.arange(size.n_labelled)
    return {
        "features": features,
        "probabilities": probs,
        "text": text,
        "labelled": labelled,
        "labels": predicted[labelled],
    }


def _context(size: Size) -> StrategyContext:
    data = _inputs(size)
    providers = {
        "probabilities": lambda: data["probabilities"],
        "text_embeddings": lambda: data["text"],
    }
    return StrategyContext(
        features=data["features"],
        labelled=data["labelled"],
        labelled_labels=data["labels"],
        n_classes=size.n_classes,
        providers=providers,
    )


def _info(name: str, size: Size, impl: str) -> dict:
    return {"kind": name, "size": size.name, "n": size.n, "budget": size.budget, "impl": impl}


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("name", ["uncertainty-herding", "cb-sq"])
def test_strategy_albench(benchmark, size_name, name):
    if size_name == "L":
        pytest.skip("not run: time budget of make bench")
    size = SIZES[size_name]
    strategy = get_strategy(name)
    selection = run_case(
        benchmark,
        lambda: strategy.select(_context(size), size.budget, np.random.default_rng(0)),
        rounds=plan.rounds(reference=True),
        info=_info(name, size, "albench"),
    )
    MEDIANS[name, size_name] = benchmark.stats.stats.median
    assert len(np.unique(selection.indices)) == size.budget


def _reference(name: str, size: Size):
    data = _inputs(size)
    args = (data["labelled"], data["labels"], size.budget)
    if name == "cb-sq":
        return lambda: cb_sq_plain(data["features"], data["probabilities"], data["text"], *args)[0]
    return lambda: uherding_full_matrix(data["features"], data["probabilities"], *args)


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("name", ["uncertainty-herding", "cb-sq"])
def test_strategy_reference(benchmark, size_name, name):
    size = SIZES[size_name]
    need = NEEDS[name](size)
    if need > plan.MEMORY_LIMIT:
        pytest.skip(f"cannot allocate: needs {need / 1e9:.0f} GB")
    if size_name not in REFERENCE_SIZES[name]:
        pytest.skip("not run: time budget of make bench")
    picks = run_case(
        benchmark,
        _reference(name, size),
        rounds=plan.rounds(reference=True),
        info=_info(name, size, "plain"),
    )
    ours = MEDIANS.get((name, size_name))
    if ours:
        speedup = benchmark.stats.stats.median / ours
        benchmark.extra_info["speedup"] = speedup
        print(f"\n{name} at {size_name}: plain / albench = {speedup:.2f}")
    assert len(np.unique(picks)) == size.budget
