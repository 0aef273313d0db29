"""Machine rates measured in the same run: the floors in docs/benchmarks.md divide by them."""

from __future__ import annotations

import torch

from benchmarks.measure import run_case

GEMM_SHAPE = (2048, 512, 4096)
STREAM_FLOATS = 64 * 2**20  # 256 MiB


def test_machine_gemm(benchmark):
    """fp32 GEMM rate (torch, default threads) at the kernels' typical shape."""
    m, k, n = GEMM_SHAPE
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=generator)
    b = torch.randn(k, n, generator=generator)
    info = {"kind": "machine", "impl": "gemm", "flops": 2.0 * m * k * n}
    run_case(benchmark, lambda: a @ b, rounds=5, info=info)


def test_machine_stream(benchmark):
    """Streaming read rate: one reduction over a 256 MiB float32 array."""
    x = torch.ones(STREAM_FLOATS)
    info = {"kind": "machine", "impl": "stream", "bytes": 4.0 * STREAM_FLOATS}
    run_case(benchmark, lambda: float(x.sum()), rounds=5, info=info)
