"""Sweep throughput on local Dask clusters of 1, 2 and 4 single-threaded worker processes.

One sweep of 16 runs (random and entropy x 8 seeds, the linear probe, 4 rounds) on a
synthetic pool (8,000 x 256, 20 classes; about 0.4 s of compute per run on one thread),
through ``run_sweep`` with ``--backend dask`` as a user runs it: features scattered once per
sweep, results written by the driver. Each cluster is started and warmed (every worker has
imported albench and torch) off the clock. The figure of merit is runs per minute and its
ratio to one worker: runs are single-threaded, so the ratio is bounded by the CPU cores the
machine gives (``cpu_count`` is recorded beside it; with 2 cores, 4 workers cannot beat 2).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from distributed import LocalCluster

from albench.backends import DaskBackend
from albench.inputs import RunInputs
from albench.protocol import Protocol
from albench.specs import SweepSpec
from albench.sweep import run_sweep

WORKERS = (1, 2, 4)
SWEEP = SweepSpec(
    datasets=("synthetic",),
    backbones=("fake",),
    learners=("linear",),
    strategies=("random", "entropy"),
    seeds=tuple(range(8)),
    protocol=Protocol(rounds=4),
)
N_RUNS = len(SWEEP.runs())
ROUNDS = 5
#: runs per minute measured so far, by worker count (the ratio's denominator is 1 worker)
_RATES: dict[int, float] = {}


@lru_cache(maxsize=1)
def synthetic_inputs(dataset: str, backbone: str, data_root: str | None) -> RunInputs:
    """8,000 pool and 2,000 test rows of 256 dimensions around 20 class embeddings (made
    once, as the feature cache serves a sweep's features from memory after the first run)."""
    rng = np.random.default_rng(0)
    n_classes, dim = 20, 256
    text = rng.normal(size=(n_classes, dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    centres = text + rng.normal(scale=0.6, size=text.shape)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, n_classes, size=n)
        features = centres[labels] + rng.normal(scale=0.5, size=(n, dim))
        return features.astype(np.float16), labels

    pool_x, pool_y = split(8000)
    test_x, test_y = split(2000)
    return RunInputs(
        pool_features=pool_x,
        pool_labels=pool_y,
        test_features=test_x,
        test_labels=test_y,
        class_names=tuple(f"c{k}" for k in range(n_classes)),
        text_embeddings=text.astype(np.float32),
        logit_scale=30.0,
    )


@pytest.fixture(scope="module", params=WORKERS, ids=lambda n: f"{n}-workers")
def cluster(request):
    with LocalCluster(
        n_workers=request.param,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    ) as local:
        local.wait_for_workers(request.param)
        yield request.param, local


def test_sweep_throughput(benchmark, cluster):
    workers, local = cluster
    backend = DaskBackend(scheduler=local.scheduler_address)
    warm_up = replace(SWEEP, seeds=tuple(range(100, 100 + workers)))
    run_sweep(warm_up, tempfile.mkdtemp(), backend=backend, inputs=synthetic_inputs)

    def fresh_folder():
        return (Path(tempfile.mkdtemp()),), {}

    def sweep(out: Path) -> None:
        result = run_sweep(SWEEP, out, backend=backend, inputs=synthetic_inputs)
        assert len(result.computed) == N_RUNS

    benchmark.pedantic(sweep, setup=fresh_folder, rounds=ROUNDS, iterations=1)
    rate = N_RUNS * 60.0 / benchmark.stats.stats.median
    _RATES[workers] = rate
    benchmark.extra_info.update(
        kind="sweep-throughput",
        workers=workers,
        runs=N_RUNS,
        runs_per_minute=round(rate, 1),
        ratio_to_1_worker=round(rate / _RATES[1], 2) if 1 in _RATES else None,
        cpu_count=os.cpu_count(),
    )
