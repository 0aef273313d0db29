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

from albench.capabilities import PROBABILITIES
from albench.kernels import greedy_k_center, kmeanspp_select
from albench.kernels._tensor import tensor_view
from albench.strategies import StrategyContext, get_strategy
from benchmarks import plan
from benchmarks.inputs import LOGIT_SCALE, SIZES, badge_factors, class_centres, clip_like

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


@pytest.mark.parametrize("size_name", plan.selected_sizes())
@pytest.mark.parametrize("outputs", ["device", "host"])
def test_entropy_outputs_cuda(benchmark, size_name, outputs):
    """One entropy selection of a GPU run whose learner computes the pool's probabilities
    on the device (a linear head, softmax(x W^T)): scored there from the learner's device
    outputs (``device``), against each block copied to host memory and scored on the CPU
    (``host``: how a GPU run selected before ``Learner.device_outputs``). Same picks."""
    size = SIZES[size_name]
    features, _ = clip_like(size.n, size.n_classes)
    x = torch.from_numpy(features).cuda()
    weight = torch.from_numpy(LOGIT_SCALE * class_centres(size.n_classes)).float().cuda()

    def on_device(rows: np.ndarray) -> torch.Tensor:
        return torch.softmax(x[tensor_view(rows).cuda()] @ weight.T, dim=1)

    ctx = StrategyContext(
        features=features,
        labelled=np.arange(size.n_labelled),
        labelled_labels=np.zeros(size.n_labelled, dtype=np.int64),
        n_classes=size.n_classes,
        row_providers={PROBABILITIES: lambda rows: on_device(rows).cpu().numpy()},
        device_row_providers={PROBABILITIES: on_device},
        device="cuda" if outputs == "device" else "cpu",
    )
    info = {"kind": "entropy-outputs", "impl": f"albench-{outputs}", "size": size_name}
    strategy = get_strategy("entropy")
    picks = _run_on_gpu(
        benchmark,
        lambda: strategy.select(ctx, size.budget, np.random.default_rng(0)).indices,
        {**info, "n": size.n},
    )
    assert len(np.unique(picks)) == size.budget
