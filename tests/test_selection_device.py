"""Selection where the run computes: device inputs to the kernels, full float32 precision.

No GPU is needed here: the tensor paths that a CUDA run takes are exercised on the CPU
(``cpu:0`` names the CPU as a torch device, so contexts hand the kernels tensors), and
``make gpu-check`` compares CUDA picks with CPU picks where a GPU exists.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401

from albench.capabilities import GradEmbedding
from albench.kernels import kmeanspp_rejection, kmeanspp_select
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec
from albench.strategies import StrategyContext, get_strategy

N_POOL, N_CLASSES, DIM = 600, 7, 16


def _context(device: str) -> StrategyContext:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N_POOL, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = 4.0 * x @ rng.normal(size=(DIM, N_CLASSES)).astype(np.float32)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    scale = p.copy()
    scale[np.arange(N_POOL), p.argmax(axis=1)] -= 1.0
    labelled = np.arange(0, N_POOL, 40)
    return StrategyContext(
        features=x,
        labelled=labelled,
        labelled_labels=p[labelled].argmax(axis=1),
        n_classes=N_CLASSES,
        providers={
            "grad_embedding": lambda: GradEmbedding(scale=scale, x=x),
            "probabilities": lambda: p,
        },
        device=device,
    )


def test_on_device_keeps_numpy_on_the_cpu_and_gives_tensors_elsewhere():
    array = np.ones((3, 2), dtype=np.float16)
    assert _context("cpu").on_device(array) is array
    moved = _context("cpu:0").on_device(array)
    assert isinstance(moved, torch.Tensor) and moved.dtype == torch.float32
    assert moved.device.type == "cpu"


@pytest.mark.parametrize("name", ["coreset", "badge", "pcb(badge)"])
def test_tensor_inputs_pick_what_numpy_inputs_pick(name):
    """The kernels' tensor path (a CUDA run's) selects exactly the numpy path's picks."""
    strategy = get_strategy(name)
    on_host = strategy.select(_context("cpu"), 30, np.random.default_rng(2))
    on_device = strategy.select(_context("cpu:0"), 30, np.random.default_rng(2))
    np.testing.assert_array_equal(on_device.indices, on_host.indices)
    if on_host.scores is not None:
        np.testing.assert_array_equal(on_device.scores, on_host.scores)


def test_badge_sampler_reads_device_factors_one_row_at_a_time(monkeypatch):
    """Device factors never move to the host whole: the rejection sampler copies the rows it
    checks, and picks what it picks from host views."""
    ctx = _context("cpu")
    factors = ctx.get("grad_embedding")
    scale, x = torch.from_numpy(factors.scale), torch.from_numpy(factors.x)
    expected = kmeanspp_select(scale, x, 40, np.random.default_rng(3), fold_every=8)
    copied: list[int] = []

    def one_row_copies(t: torch.Tensor):
        def row(i: int) -> np.ndarray:
            copied.append(i)
            return t[i].clone().numpy()

        return row

    monkeypatch.setattr(kmeanspp_rejection, "host_rows", one_row_copies)
    picks = kmeanspp_select(scale, x, 40, np.random.default_rng(3), fold_every=8)
    np.testing.assert_array_equal(picks, expected)
    assert copied and len(set(copied)) < N_POOL // 2


@pytest.mark.usefixtures("one_thread")
def test_runs_select_in_full_float32_precision_and_restore_the_setting():
    """A learner may train in TF32; the strategy still selects with exact float32 GEMMs, on
    the run's device, and the learner's setting is back afterwards."""
    spec = RunSpec(
        dataset="blobs",
        backbone="fake",
        learner="linear",
        strategy=spec_of("RecordsArithmetic"),
        seed=0,
        protocol=Protocol(rounds=2, budget="1/class", initial_size="1/class"),
    )
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        result = run(spec, make_inputs())
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)
    seen = [record["info"] for record in result.selections["rounds"]]
    assert seen == [{"precision": "highest", "device": "cpu"}] * 2
