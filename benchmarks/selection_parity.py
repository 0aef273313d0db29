"""Selection on a device against selection on the CPU: the same picks, and the time of each.

Part of `make gpu-check`. Each strategy selects one round of the benchmark size's budget
from the synthetic pool (``benchmarks/strategy_inputs.py``: features, probabilities and
BADGE factors of one linear head), once with a CPU context and once with a context on
``device``, whose kernels and scores then compute there (``StrategyContext.on_device``,
``blocks(..., on_device=True)``) under full float32 precision (TF32 off,
``albench.kernels._tensor.exact_float32``). The table says whether the picks are the same
and how many differ. Margin and least-confidence only compare and subtract; entropy's
logarithms (CUDA's and the CPU's vector library may round them one unit in the last place
apart), BALD's entropies and ALFA-Mix's flip caps are float64 on both sides, so their
differences are 10^-13 of a value or less, while the 1,000 highest entropies at M lie
4.9e-8 apart at the closest (``min_score_gap('entropy', 'M')``).

The herding strategies are outside the exact group (:data:`NEAR_TIES`): a gain is a mean
of ``max(0, k - best)`` over the pool, small differences of kernel values near 0.1, so a
last-bit difference in a kernel value is 10^-12 of a gain, and the greedy order meets gains
that close. On this machine the torch path on the CPU (other GEMM blocking and ``exp`` than
numpy's) picked 17 of MaxHerding's 1,000 picks at M differently, from pick 669 on, where
two gains of 2.066e-5 were that close; Uncertainty Herding agreed. Their rows are reported
and do not fail the check. The comparison on the CPU, the torch path named ``cpu:0``:

    python -c "from benchmarks.selection_parity import *; print(parity_table('cpu:0', 'M'))"
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from albench.kernels._tensor import exact_float32
from albench.strategies import get_strategy
from benchmarks.inputs import SIZES
from benchmarks.strategy_inputs import context

#: strategies whose kernels and scores compute where their inputs live
STRATEGIES = (
    "coreset",
    "badge",
    "pcb(badge)",
    "entropy",
    "margin",
    "least-confidence",
    "pcb(entropy)",
    "bald(samples=20)",
    "max-herding",
    "uncertainty-herding",
    "alfa-mix",
)


def _timed_picks(spec: str, size_name: str, device: str) -> tuple[np.ndarray, float]:
    import torch

    strategy, ctx = get_strategy(spec), context(SIZES[size_name], device)
    start = time.perf_counter()
    with exact_float32():
        picks = strategy.select(ctx, SIZES[size_name].budget, np.random.default_rng(0)).indices
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return np.asarray(picks), time.perf_counter() - start


#: strategies whose greedy order meets gains closer than their rounding (see above)
NEAR_TIES = frozenset({"max-herding", "uncertainty-herding"})


def min_score_gap(spec: str, size_name: str) -> float:
    """The smallest difference between consecutive scores among a strategy's picks on the
    CPU: how far apart two devices' roundings may move scores before a swap can happen."""
    size = SIZES[size_name]
    picked = get_strategy(spec).select(context(size, "cpu"), size.budget, np.random.default_rng(0))
    return float(np.min(np.abs(np.diff(picked.scores))))


def parity_table(device: str, size_name: str = "M") -> pd.DataFrame:
    """One row per strategy: whether its picks must be equal (not :data:`NEAR_TIES`),
    picks equal, how many differ, seconds on the CPU and on ``device`` (the device's first
    call includes its set-up)."""
    rows = []
    for spec in STRATEGIES:
        on_cpu, cpu_seconds = _timed_picks(spec, size_name, "cpu")
        on_device, device_seconds = _timed_picks(spec, size_name, device)
        rows.append(
            {
                "strategy": spec,
                "size": size_name,
                "device": device,
                "must equal": spec not in NEAR_TIES,
                "picks equal": bool(np.array_equal(on_cpu, on_device)),
                "picks differing": int(np.setdiff1d(on_cpu, on_device).size),
                "cpu s": cpu_seconds,
                "device s": device_seconds,
            }
        )
    return pd.DataFrame(rows)
