"""Greedy k-center (core-set) selection: albench's kernel against named references."""

from __future__ import annotations

import numpy as np
import pytest

from albench.kernels import greedy_k_center
from benchmarks import plan
from benchmarks.inputs import SIZES, clip_like
from benchmarks.measure import run_case
from benchmarks.references import REFERENCES


def _inputs(size_name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    size = SIZES[size_name]
    features, _ = clip_like(size.n, size.n_classes)
    info = {
        "kind": "k-center",
        "size": size_name,
        "n": size.n,
        "budget": size.budget,
        "flops": plan.k_center_flops(size),
        "stream_bytes": plan.k_center_stream_bytes(size),
        "input_bytes": plan.feature_bytes(size),
    }
    return features, np.arange(size.n_labelled), info


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("method", ["lazy", "plain"])
def test_k_center_albench(benchmark, size_name, method):
    if method == "plain" and size_name != "S":
        pytest.skip("plain loop timed at S only (time budget)")
    features, centres, info = _inputs(size_name)
    budget = SIZES[size_name].budget
    picks = run_case(
        benchmark,
        lambda: greedy_k_center(features, centres, budget, method=method),
        rounds=plan.rounds(),
        info={**info, "impl": f"albench-{method}"},
    )
    assert len(np.unique(picks)) == budget


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("name", ["k_center_full_matrix", "k_center_pairwise"])
def test_k_center_reference(benchmark, size_name, name):
    reason = plan.reference_skip_reason(name, size_name)
    if reason:
        pytest.skip(reason)
    features, centres, info = _inputs(size_name)
    budget = SIZES[size_name].budget
    reference = REFERENCES[name][0]
    picks = run_case(
        benchmark,
        lambda: reference(features, centres, budget),
        rounds=plan.rounds(reference=True),
        info={**info, "impl": name},
    )
    assert len(np.unique(picks)) == budget
