"""Selection on a device against selection on the CPU: the same picks, and the time of each.

Part of `make gpu-check`. Each strategy selects one round of the benchmark size's budget
from the synthetic pool (``benchmarks/strategy_inputs.py``: features, probabilities and
BADGE factors of one linear head), once with a CPU context and once with a context on
``device``, whose kernels and scores then compute there (``StrategyContext.on_device``,
``blocks(..., on_device=True)``) under full float32 precision (TF32 off,
``albench.kernels._tensor.exact_float32``). The table says whether the picks are the same
and how many differ. Entropy's float32 logarithm is the one operation here that CUDA and
the CPU's vector library may round differently (each within one unit in the last place),
so its row can differ by a swapped near-tie without a kernel being wrong; margin and
least-confidence only compare and subtract, and must agree exactly; BALD's entropies, the
herding strategies' kernel sums and ALFA-Mix's flip caps are float64 on both sides (their
differences are 10^-13 of a value or less).
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


def parity_table(device: str, size_name: str = "M") -> pd.DataFrame:
    """One row per strategy: picks equal, how many differ, seconds on the CPU and on
    ``device`` (the device's first call includes its set-up)."""
    rows = []
    for spec in STRATEGIES:
        on_cpu, cpu_seconds = _timed_picks(spec, size_name, "cpu")
        on_device, device_seconds = _timed_picks(spec, size_name, device)
        rows.append(
            {
                "strategy": spec,
                "size": size_name,
                "device": device,
                "picks equal": bool(np.array_equal(on_cpu, on_device)),
                "picks differing": int(np.setdiff1d(on_cpu, on_device).size),
                "cpu s": cpu_seconds,
                "device s": device_seconds,
            }
        )
    return pd.DataFrame(rows)
