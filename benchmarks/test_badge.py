"""BADGE k-means++ seeding: albench's kernel against named references."""

from __future__ import annotations

import numpy as np
import pytest

from albench.kernels import kmeanspp_select
from benchmarks import plan
from benchmarks.inputs import SIZES, badge_factors
from benchmarks.measure import run_case
from benchmarks.references import REFERENCES


def _inputs(size_name: str) -> tuple[np.ndarray, np.ndarray, dict]:
    size = SIZES[size_name]
    scale, x = badge_factors(size)
    info = {
        "kind": "badge",
        "size": size_name,
        "n": size.n,
        "budget": size.budget,
        "flops": plan.badge_flops(size),
        "stream_bytes": plan.badge_stream_bytes(size),
        "input_bytes": plan.factor_bytes(size),
    }
    return scale, x, info


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("draws", ["rejection", "inverse-cdf"])
def test_badge_albench(benchmark, size_name, draws):
    if draws == "inverse-cdf" and size_name != "S":
        pytest.skip("plain loop timed at S only (time budget)")
    scale, x, info = _inputs(size_name)
    budget = SIZES[size_name].budget
    picks = run_case(
        benchmark,
        lambda: kmeanspp_select(scale, x, budget, np.random.default_rng(0), draws=draws),
        rounds=plan.rounds(),
        info={**info, "impl": f"albench-{draws}"},
    )
    assert len(np.unique(picks)) == budget


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("name", ["badge_materialised", "badge_factorised_rv"])
def test_badge_reference(benchmark, size_name, name):
    reason = plan.reference_skip_reason(name, size_name)
    if reason:
        pytest.skip(reason)
    scale, x, info = _inputs(size_name)
    budget = SIZES[size_name].budget
    reference = REFERENCES[name][0]
    picks = run_case(
        benchmark,
        lambda: reference(scale, x, budget, np.random.default_rng(0)),
        rounds=plan.rounds(reference=True),
        info={**info, "impl": name},
    )
    assert len(np.unique(picks)) == budget
