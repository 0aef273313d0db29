"""Real faults on a Dask sweep: a worker process killed mid-run, and the scheduler killed
mid-sweep then replaced. The sweep survives the first with results identical to `--jobs 1`;
the second ends it with one error line (exit 2), and a rerun on a new cluster computes only
the missing runs, again identical to `--jobs 1`.

Runs of ``tests/gated_strategy.py:Gated`` wait at a gate file, so a kill lands in the middle
of a run by construction; every process started here is killed on the way out.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dask
import pandas as pd
import pytest
from cli_children import finish, start, sweep_argv, wait_until
from distributed import Client, LocalCluster
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, small_sweep, stable

import albench
from albench.backends import DaskBackend
from albench.cli import main
from albench.errors import AlbenchError
from albench.results import RUNS_DIR, is_finished, load
from albench.sweep import run_sweep

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.faults]

GATED = f"{Path(__file__).resolve().parent / 'gated_strategy.py'}:Gated"
DIES = f"{Path(__file__).resolve().parent / 'gated_strategy.py'}:Dies"
TIMEOUT = 120.0


def _poll(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _markers(folder: Path) -> list[int]:
    """The pid behind each selection a Gated run started (one marker per selection)."""
    return [int(path.name.split("-")[0]) for path in folder.iterdir()]


def _finished(out: Path) -> list[Path]:
    return sorted((out / RUNS_DIR).glob("*.parquet"))


@pytest.fixture
def gate(tmp_path, monkeypatch) -> Iterator[tuple[Path, Path]]:
    """(markers folder, gate file) in the environment that workers and CLI children inherit;
    the gate is opened on the way out, so nothing waits on it after a failed test."""
    markers, gate_file = tmp_path / "markers", tmp_path / "gate"
    markers.mkdir()
    monkeypatch.setenv("ALBENCH_TEST_MARKERS", str(markers))
    monkeypatch.setenv("ALBENCH_TEST_GATE", str(gate_file))
    yield markers, gate_file
    gate_file.touch()


def test_a_worker_killed_mid_run_is_replaced_and_the_sweep_equals_jobs_1(tmp_path, gate):
    markers, gate_file = gate
    sweep = small_sweep(strategies=(GATED, "random"), seeds=(0, 1, 2))  # 6 runs, 2 rounds
    with (
        LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        workers = set(client.run(os.getpid).values())
        backend = DaskBackend(scheduler=cluster.scheduler_address)
        sweep_done = pool.submit(
            run_sweep, sweep, tmp_path / "dask", backend=backend, inputs=CountingInputs()
        )

        def gated_run_started() -> bool:
            if sweep_done.done():
                sweep_done.result()  # the sweep's own error, if it ended early
            return bool(list(markers.iterdir()))

        try:
            _poll(gated_run_started, "a Gated run")
            victim = _markers(markers)[0]  # a worker holding a gated run at the gate
            assert victim in workers
            os.kill(victim, signal.SIGKILL)
        finally:
            gate_file.touch()
        on_dask = sweep_done.result(timeout=TIMEOUT)

    assert len(on_dask.computed) == 6 and not list(tmp_path.glob("dask/runs/.*.tmp"))
    pids = _markers(markers)
    # 3 gated runs x 2 rounds, plus the first round of the run lost with its worker
    assert len(pids) == 7 and pids.count(victim) == 1
    local = run_sweep(sweep, tmp_path / "local", jobs=1, inputs=CountingInputs())
    pd.testing.assert_frame_equal(stable(on_dask.rows), stable(local.rows))


def test_a_run_that_kills_every_worker_it_lands_on_ends_the_sweep_in_one_line(tmp_path):
    sweep = small_sweep(strategies=("random", DIES), seeds=(0,))
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),  # one death is all
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
            env={"ALBENCH_TEST_DIE": "1"},
        ) as cluster,
    ):
        backend = DaskBackend(scheduler=cluster.scheduler_address)
        with pytest.raises(AlbenchError) as stopped:
            run_sweep(sweep, tmp_path, backend=backend, inputs=CountingInputs())
    random_run, killer = sweep.runs()
    assert str(stopped.value) == (
        f"run {killer.run_id} ({DIES}, linear, seed 0 on blobs) died with its Dask worker on "
        "every attempt (distributed.scheduler.allowed-failures), perhaps out of memory; the "
        "runs finished so far are kept"
    )
    assert is_finished(tmp_path, random_run.run_id) and not is_finished(tmp_path, killer.run_id)


class _Cluster:
    """A scheduler and two single-threaded workers as subprocesses of their own sessions,
    running the albench this test imports; :meth:`kill` ends them all."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def start(self, folder: Path) -> None:
        folder.mkdir()
        env = {**os.environ, "PYTHONPATH": str(Path(albench.__file__).parents[1])}
        spec = folder / "scheduler.json"
        self.scheduler = self._start(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(spec)],
            folder / "scheduler.log",
            env,
        )
        _poll(lambda: spec.exists() and spec.stat().st_size > 0, "the scheduler file")
        self.address = json.loads(spec.read_text())["address"]
        self._start(
            ["worker", self.address, "--nworkers", "2", "--nthreads", "1"],
            folder / "workers.log",
            env,
        )
        with Client(self.address, timeout=TIMEOUT) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)

    def _start(self, argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
        command = [sys.executable, "-m", "dask", *argv, "--no-dashboard"]
        with log.open("w") as handle:
            process = subprocess.Popen(
                command, stdout=handle, stderr=handle, env=env, start_new_session=True
            )
        self.processes.append(process)
        return process

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # its session: nanny and workers too
            process.wait()


@pytest.fixture
def clusters(tmp_path) -> Iterator[Callable[[], _Cluster]]:
    """Starts clusters on demand; kills every process of every one at the end."""
    started: list[_Cluster] = []

    def new() -> _Cluster:
        started.append(_Cluster())  # before starting, so a failed start is cleaned up too
        started[-1].start(tmp_path / f"cluster-{len(started)}")
        return started[-1]

    yield new
    for cluster in started:
        cluster.kill()


def test_scheduler_killed_mid_sweep_then_a_rerun_on_a_new_cluster_finishes_the_rest(
    tmp_path, tiny_digits_cache, gate, clusters, capsys, monkeypatch
):
    log = tmp_path / "child.log"
    markers, gate_file = gate
    tickets = tmp_path / "tickets"  # exactly 2 selections pass the gate
    tickets.mkdir()
    for name in ("a", "b"):
        (tickets / name).touch()
    monkeypatch.setenv("ALBENCH_TEST_TICKETS", str(tickets))  # for the workers started next
    out = tmp_path / "out"
    argv = [*sweep_argv(GATED, out), "--rounds", "1", "--seeds", "0-4"]  # 5 runs, 1 selection
    first = clusters()
    child = start([*argv, "--backend", "dask", "--scheduler", first.address], log)

    def held() -> bool:  # 2 runs finished; both workers hold a run at the gate
        return len(_finished(out)) == 2 and len(_markers(markers)) == 4

    try:
        wait_until(held, child, timeout=300)
        os.kill(first.scheduler.pid, signal.SIGKILL)
        assert finish(child) == 2
    finally:
        if child.is_alive():
            child.kill()
        first.kill()
    text = log.read_text()
    assert text.splitlines()[-1] == (
        f"albench: error: lost the Dask scheduler at {first.address} mid-sweep (the runs "
        "in flight were cancelled); the runs finished so far are kept: restart the cluster "
        "and rerun the same albench run command to compute the rest"
    )
    assert "Traceback" not in text and "distributed" not in text
    assert len(_finished(out)) == 2 and not list(out.rglob("*.tmp")) and not list(tickets.iterdir())

    gate_file.touch()
    second = clusters()
    capsys.readouterr()
    assert main([*argv, "--backend", "dask", "--scheduler", second.address]) == 0
    assert "3 runs computed, 2 already done" in capsys.readouterr().out
    assert len(_markers(markers)) == 4 + 3  # the 4 selections before, then the 3 missing runs

    reference = [*sweep_argv(GATED, tmp_path / "reference"), "--rounds", "1", "--seeds", "0-4"]
    assert main([*reference, "--jobs", "1"]) == 0
    pd.testing.assert_frame_equal(stable(load(out)), stable(load(tmp_path / "reference")))
