"""albench's selection kernels on a CUDA GPU: the "GPU median" column of docs/benchmarks.md.

Skipped where ``torch.cuda.is_available()`` is false. The inputs of the CPU cases are moved
to the device before timing (the kernels then compute where their inputs live), and each
timed round ends with ``torch.cuda.synchronize()`` so queued kernels count. One untimed
warm-up round per case takes CUDA context, cuBLAS and allocator set-up off the clock. Every
case is a fraction of a second to a few seconds at L on a current GPU, so the whole file
stays far inside its 10-minute budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from albench.kernels import greedy_k_center, kmeanspp_select
from benchmarks import plan
from benchmarks.inputs import SIZES, badge_factors, clip_like

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def _run_on_gpu(benchmark, fn: Callable[[], np.ndarray], info: dict[str, Any]) -> np.ndarray:
    def synchronised() -> np.ndarray:
        picks = fn()
        torch.cuda.synchronize()
        return picks

    picks = benchmark.pedantic(
        synchronised, setup=torch.cuda.synchronize, rounds=plan.rounds(), warmup_rounds=1
    )
    benchmark.extra_info.update(info, device="cuda")
    return picks


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("method", ["lazy", "plain"])
def test_k_center_cuda(benchmark, size_name, method):
    size = SIZES[size_name]
    features, _ = clip_like(size.n, size.n_classes)
    x = torch.from_numpy(features).cuda()
    centres = np.arange(size.n_labelled)
    info = {"kind": "k-center", "impl": f"albench-{method}", "size": size_name, "n": size.n}
    picks = _run_on_gpu(
        benchmark, lambda: greedy_k_center(x, centres, size.budget, method=method), info
    )
    assert len(np.unique(picks)) == size.budget
    assert picks.min() >= size.n_labelled


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("draws", ["rejection", "inverse-cdf"])
def test_badge_cuda(benchmark, size_name, draws):
    size = SIZES[size_name]
    scale, x = (torch.from_numpy(array).cuda() for array in badge_factors(size))
    info = {"kind": "badge", "impl": f"albench-{draws}", "size": size_name, "n": size.n}
    picks = _run_on_gpu(
        benchmark,
        lambda: kmeanspp_select(scale, x, size.budget, np.random.default_rng(0), draws=draws),
        info,
    )
    assert len(np.unique(picks)) == size.budget
