"""Selection where the run computes: device inputs to the kernels, full float32 precision.

No GPU is needed here: the tensor paths that a CUDA run takes are exercised on the CPU
(``cpu:0`` names the CPU as a torch device, so contexts hand the kernels tensors), and
``make gpu-check`` compares CUDA picks with CPU picks where a GPU exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

from albench import kernels, runner, stop_signals
from albench.capabilities import (
    CORRECTNESS_PROB,
    GRAD_EMBEDDING,
    PROBABILITIES,
    ROW_FREE_CAPABILITIES,
    GradEmbedding,
    LinearHead,
)
from albench.kernels import _tensor, herding, kmeanspp_rejection, kmeanspp_select
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec
from albench.strategies import StrategyContext, get_strategy
from albench.strategies.alfa_mix import critical_caps
from albench.strategies.scored import ScoredStrategy

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


@pytest.mark.parametrize(
    "name", ["max-herding", "max-herding(bandwidth=0.5)", "uncertainty-herding"]
)
def test_herding_on_device_tensors_picks_what_numpy_picks(monkeypatch, name):
    """The coverage kernel of a GPU run (torch float64 on the features' device) picks what
    the numpy kernel picks, with gains equal to the last bits."""
    strategy = get_strategy(name)
    on_host = strategy.select(_context("cpu"), 25, np.random.default_rng(2))
    monkeypatch.setattr(herding, "_HostCoverage", None)  # the device run must not use it
    on_device = strategy.select(_context("cpu:0"), 25, np.random.default_rng(2))
    np.testing.assert_array_equal(on_device.indices, on_host.indices)
    np.testing.assert_allclose(on_device.scores, on_host.scores, rtol=1e-12)


def test_alfa_mix_flip_caps_of_tensors_are_the_numpy_ones():
    """ALFA-Mix's caps of a GPU run's embeddings (torch float64 there) equal numpy's to the
    rounding of their sums; rows that never flip are the same rows."""
    rng = np.random.default_rng(6)
    z = rng.normal(size=(500, DIM)).astype(np.float32)
    head = LinearHead(5 * rng.normal(size=(N_CLASSES, DIM)), rng.normal(size=N_CLASSES))
    anchors = rng.normal(size=(N_CLASSES, DIM))
    anchors[2] = z[0]  # a row at an anchor: no step towards it
    on_host = critical_caps(z, head, anchors)
    on_device = critical_caps(torch.from_numpy(z), head, anchors)
    assert isinstance(on_device, torch.Tensor)
    np.testing.assert_array_equal(np.isinf(on_device.numpy()), np.isinf(on_host))
    np.testing.assert_allclose(on_device.numpy(), on_host, rtol=1e-10)
    assert critical_caps(torch.from_numpy(z), head, np.zeros((0, 0))).isinf().all()


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


def _probabilities() -> np.ndarray:
    return _context("cpu").get(PROBABILITIES)


def _served(device: str, calls: list[str]) -> StrategyContext:
    """A context whose learner gives probabilities on host rows and on device rows, each
    call recorded in ``calls``."""
    p = _probabilities()

    def on_host(rows: np.ndarray) -> np.ndarray:
        calls.append("host")
        return p[rows]

    def on_device(rows: np.ndarray) -> torch.Tensor:
        calls.append("device")
        return torch.from_numpy(p[rows]).to(device)

    return StrategyContext(
        features=np.zeros((N_POOL, DIM), dtype=np.float32),
        labelled=np.arange(0, N_POOL, 40),
        labelled_labels=np.zeros(N_POOL // 40, dtype=np.int64),
        n_classes=N_CLASSES,
        row_providers={PROBABILITIES: on_host},
        device_row_providers={PROBABILITIES: on_device},
        device=device,
    )


def test_blocks_on_a_device_come_from_the_learners_device_outputs():
    """A GPU run's blocks are computed there: the host form is never asked for."""
    calls: list[str] = []
    rows = np.arange(5, 105)
    blocks = list(_served("cpu:0", calls).blocks(PROBABILITIES, rows, N_CLASSES, on_device=True))
    assert calls == ["device"] * len(blocks)
    assert all(isinstance(block, torch.Tensor) for _, block in blocks)
    np.testing.assert_array_equal(torch.cat([b for _, b in blocks]).numpy(), _probabilities()[rows])


def test_blocks_on_the_cpu_or_for_the_host_stay_numpy():
    for device, on_device in [("cpu", True), ("cpu:0", False)]:
        calls: list[str] = []
        ctx = _served(device, calls)
        blocks = list(ctx.blocks(PROBABILITIES, np.arange(50), N_CLASSES, on_device=on_device))
        assert calls == ["host"] * len(blocks)
        assert all(isinstance(block, np.ndarray) for _, block in blocks)


def test_outputs_without_a_device_form_are_moved_to_the_device():
    """A learner without device outputs (a plugin's) still hands device blocks over, copied
    from its host rows; factors move field by field."""
    ctx = _context("cpu:0")
    rows = np.arange(10, 60)
    (_, block), *_ = ctx.blocks(GRAD_EMBEDDING, rows, N_CLASSES + DIM, on_device=True)
    assert isinstance(block.scale, torch.Tensor) and isinstance(block.x, torch.Tensor)
    host = _context("cpu").get(GRAD_EMBEDDING)
    np.testing.assert_array_equal(block.scale.numpy(), host.scale[rows])
    np.testing.assert_array_equal(block.x.numpy(), host.x[rows])


class HostOnlyScore(ScoredStrategy):
    """A plugin's score written for numpy blocks (``scores_tensors`` left False)."""

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        assert isinstance(probabilities, np.ndarray)
        return probabilities.max(axis=1)


@pytest.mark.parametrize("name", ["entropy", "margin", "least-confidence", "pcb(entropy)"])
def test_uncertainty_scores_on_the_device_equal_those_on_the_host(name):
    """Built-in scores take the device blocks (no host copy of the probabilities) and rank
    exactly as from numpy blocks."""
    strategy = get_strategy(name)
    device_calls: list[str] = []
    on_device = strategy.select(_served("cpu:0", device_calls), 40, np.random.default_rng(0))
    host_calls: list[str] = []
    on_host = strategy.select(_served("cpu", host_calls), 40, np.random.default_rng(0))
    assert set(device_calls) == {"device"} and set(host_calls) == {"host"}
    np.testing.assert_array_equal(on_device.indices, on_host.indices)
    np.testing.assert_array_equal(on_device.scores, on_host.scores)


@pytest.mark.parametrize("name", ["dual-prompt", "dual-prompt(pseudo_per_class=2)"])
def test_dual_prompt_reads_predictions_and_correctness_on_the_device(name):
    """The dual-prompt strategy's two outputs come from the learner's device form and give
    the host run's picks and pseudo-labels."""
    p = _probabilities()
    u = np.random.default_rng(8).random(N_POOL).astype(np.float32)

    def context(device: str, calls: list[str]) -> StrategyContext:
        def served(kind: str, values: np.ndarray) -> Any:
            def rows_of(rows: np.ndarray) -> Any:
                calls.append(kind)
                return values[rows] if kind == "host" else torch.from_numpy(values[rows])

            return rows_of

        return StrategyContext(
            features=np.zeros((N_POOL, DIM), dtype=np.float32),
            labelled=np.arange(0, N_POOL, 40),
            labelled_labels=np.zeros(N_POOL // 40, dtype=np.int64),
            n_classes=N_CLASSES,
            row_providers={PROBABILITIES: served("host", p), CORRECTNESS_PROB: served("host", u)},
            device_row_providers={
                PROBABILITIES: served("device", p),
                CORRECTNESS_PROB: served("device", u),
            },
            device=device,
        )

    strategy = get_strategy(name)
    device_calls: list[str] = []
    host_calls: list[str] = []
    on_device = strategy.select(context("cpu:0", device_calls), 30, np.random.default_rng(0))
    on_host = strategy.select(context("cpu", host_calls), 30, np.random.default_rng(0))
    assert set(device_calls) == {"device"} and set(host_calls) == {"host"}
    for field in ("indices", "scores", "pseudo_indices", "pseudo_labels"):
        np.testing.assert_array_equal(getattr(on_device, field), getattr(on_host, field))


def test_a_plugin_score_still_gets_numpy_blocks_on_a_device_run():
    calls: list[str] = []
    picked = HostOnlyScore().select(_served("cpu:0", calls), 5, np.random.default_rng(0))
    assert set(calls) == {"host"}
    unlabelled = np.setdiff1d(np.arange(N_POOL), np.arange(0, N_POOL, 40))
    expected = unlabelled[np.argsort(-_probabilities()[unlabelled].max(axis=1), kind="stable")]
    np.testing.assert_array_equal(picked.indices, expected[:5])


def test_mutual_information_of_tensors_is_the_numpy_one():
    """BALD's scores of a GPU run's passes: torch on their device, float64 as on the host."""
    mc = np.random.default_rng(4).dirichlet(np.ones(N_CLASSES), size=(60, 9)).astype(np.float32)
    on_device = kernels.mutual_information(torch.from_numpy(mc))
    assert isinstance(on_device, torch.Tensor) and on_device.dtype == torch.float64
    np.testing.assert_allclose(
        on_device.numpy(), kernels.mutual_information(mc), rtol=1e-12, atol=1e-15
    )


class NoImplicitDevice(TorchFunctionMode):
    """Tensors made without a device land on ``meta``, where no arithmetic with the run's
    tensors is possible.

    In a CUDA run torch's default device (the CPU) is not the run's device, so a tensor made
    without ``device=`` breaks it; on ``cpu:0`` the two are the same, and such a tensor would
    go unnoticed without this mode. Draws from an explicit generator are left alone: seeded
    draws happen on the CPU on purpose (the same seed gives the same masks on any device),
    and are moved afterwards.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        made_here = func in _device_constructors() and kwargs.get("device") is None
        if made_here and "generator" not in kwargs:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


@contextlib.contextmanager
def without_implicit_device(enter: Any) -> Iterator[None]:
    with enter(), NoImplicitDevice():
        yield


def watch_device_copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of the runner's copies of the pool to the device (the list returned);
    any other copy there is refused, and selection runs under :class:`NoImplicitDevice`."""
    copies: list[int] = []
    copy = _tensor.to_device

    def pool_copy(array, device):
        copies.append(len(array))
        return copy(array, device)

    def refused(*args, **options):
        raise AssertionError("a copy to the device other than the pool's")

    monkeypatch.setattr(runner, "to_device", pool_copy)
    monkeypatch.setattr(_tensor, "to_device", refused)
    exact = runner.exact_float32
    monkeypatch.setattr(runner, "exact_float32", lambda: without_implicit_device(exact))
    return copies


def test_the_probe_refuses_a_tensor_made_without_a_device():
    on_device = torch.ones(3, device="cpu:0")
    with NoImplicitDevice():
        seeded = torch.rand(3, generator=torch.Generator().manual_seed(0))
        assert (on_device + seeded).device.type == "cpu"
        assert torch.zeros(3, device=on_device.device).device.type == "cpu"
        with pytest.raises(RuntimeError, match="meta"):
            on_device + torch.zeros(3)


DEVICE_STRATEGIES = ("entropy", "badge", "pcb(margin)", "coreset")
ONE_PASS_LEARNERS = ("linear", "zero-shot", "clip-adapter(steps=5)")
DEVICE_RUNS = [
    *((learner, strategy) for learner in ONE_PASS_LEARNERS for strategy in DEVICE_STRATEGIES),
    ("linear(dropout=0.2)", "bald(samples=6)"),
    ("linear", "uncertainty-herding"),
    ("zero-shot", "max-herding"),
    ("linear", "alfa-mix"),
    ("zero-shot", "alfa-mix"),
    ("clip-adapter(steps=5, dropout=0.2)", "power-bald(samples=6)"),
]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("learner", "strategy"), DEVICE_RUNS)
def test_a_run_on_a_device_selects_what_a_run_on_the_cpu_selects(monkeypatch, learner, strategy):
    """Through the runner: the pool's features go to the device once per run, the learner
    computes its outputs there from them (its host outputs are refused, and so are moving a
    host array there, any other copy to the device and a tensor made without a device while
    selecting or measuring the stop signals), and the device run queries, round by round,
    the samples the CPU run queries."""
    spec = RunSpec(
        dataset="blobs",
        backbone="fake",
        learner=learner,
        strategy=strategy,
        seed=3,
        protocol=Protocol(rounds=2, budget="2/class", initial_size="1/class"),
    )
    inputs = make_inputs(n_pool=200)
    cpu_run = run(spec, inputs)

    def refused(*args, **options):
        raise AssertionError("a host output or a copy to the device during selection")

    host_providers = runner._providers

    def row_free_only(*args):
        providers = host_providers(*args)
        return {n: fn if n in ROW_FREE_CAPABILITIES else refused for n, fn in providers.items()}

    copies = watch_device_copies(monkeypatch)
    monkeypatch.setattr(StrategyContext, "_moved", refused)
    monkeypatch.setattr(runner, "_providers", row_free_only)
    monkeypatch.setattr(runner, "_row_providers", lambda *args: {})
    scored: list[type] = []
    largest_entropy = stop_signals.max_entropy

    def spied(block):
        scored.append(type(block))
        return largest_entropy(block)

    monkeypatch.setattr(stop_signals, "max_entropy", spied)
    measure = stop_signals.StopSignals.measure

    def measured_without_implicit_device(*args):
        with NoImplicitDevice():
            return measure(*args)

    monkeypatch.setattr(stop_signals.StopSignals, "measure", measured_without_implicit_device)
    device_run = run(spec, replace(inputs, device="cpu:0"))
    on_device, on_cpu = device_run.selections["rounds"], cpu_run.selections["rounds"]
    assert [r["indices"] for r in on_device] == [r["indices"] for r in on_cpu]
    assert copies == [200]
    # the stop signals read the model's device outputs too, and measure the same (to the
    # rounding of float32 sums taken in another order)
    assert scored and set(scored) == {torch.Tensor}
    signals = ["stop_kappa", "max_uncertainty"]
    pd.testing.assert_frame_equal(device_run.rows[signals], cpu_run.rows[signals], rtol=1e-6)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("initial", ["max-herding", "typiclust", "zero-shot-kmeans"])
def test_a_cold_start_on_a_device_picks_what_it_picks_on_the_cpu(monkeypatch, initial):
    """A strategy's cold start selects where the run computes, from the pool's one copy
    there (MaxHerding's coverage on the device: the numpy kernel is refused), with no tensor
    made without a device; host-only policies pick on the host. The same initial sets."""
    spec = RunSpec(
        dataset="blobs",
        backbone="fake",
        learner="linear",
        strategy="random",
        seed=4,
        protocol=Protocol(rounds=1, budget="1/class", initial=initial, initial_size="3/class"),
    )
    inputs = make_inputs(n_pool=200)
    cpu_run = run(spec, inputs)
    copies = watch_device_copies(monkeypatch)
    monkeypatch.setattr(herding, "_HostCoverage", None)
    device_run = run(spec, replace(inputs, device="cpu:0"))
    assert device_run.selections["initial"] == cpu_run.selections["initial"]
    assert len(device_run.selections["initial"]) == 12 and copies == [200]
