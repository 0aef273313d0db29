"""Concurrent writers: sweeps sharing a results folder compute each run once, store it once,
and together finish the union; a run another process holds is waited for, and computed here
if its holder gives up."""

from __future__ import annotations

import concurrent.futures
import contextlib
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
from cli_children import PAUSING, finish, start, sweep_argv
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, small_sweep, stable

from albench import sweep as sweep_module
from albench.backends import compute_with_provider
from albench.claims import try_claim
from albench.cli import main
from albench.results import RUNS_DIR, load, read_sweeps, write_run
from albench.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")

SUMMARY = re.compile(r"(\d+) runs computed, (\d+) already done(?:, (\d+) by another process)?")


def test_two_overlapping_sweeps_at_once_compute_the_union_once(tmp_path, tiny_digits_cache):
    out, markers = tmp_path / "shared", tmp_path / "markers"
    markers.mkdir()
    env = {"ALBENCH_TEST_MARKERS": str(markers), "ALBENCH_TEST_PAUSE": "0.15"}
    sweeps = {"a": f"{PAUSING},random", "b": f"{PAUSING},entropy"}
    children = {
        key: start(sweep_argv(strategies, out), tmp_path / f"{key}.log", env)
        for key, strategies in sweeps.items()
    }
    assert all(finish(child) == 0 for child in children.values())

    counts = {}
    for key in sweeps:
        [match] = SUMMARY.findall((tmp_path / f"{key}.log").read_text())
        computed, skipped, elsewhere = (int(n or 0) for n in match)
        assert computed + skipped + elsewhere == 6  # each process ends with its sweep whole
        counts[key] = computed
    assert sum(counts.values()) == 9  # 3 shared runs + 3 + 3, each computed by one process
    # each shared run selected twice (2 rounds) by exactly one process: 3 x 2 markers
    assert len(list(markers.iterdir())) == 6

    assert len(list((out / RUNS_DIR).glob("*.parquet"))) == 9
    assert sorted(p.name for p in out.rglob("*") if p.suffix in {".tmp", ".claim"}) == []
    assert len(read_sweeps(out)) == 2
    for strategies in sweeps.values():  # the same sweeps one after the other
        assert main(sweep_argv(strategies, tmp_path / "reference")) == 0
    pd.testing.assert_frame_equal(
        stable(load(out)).drop(columns="sweep"),
        stable(load(tmp_path / "reference")).drop(columns="sweep"),
    )


class _Background:
    """run_sweep in a thread (as another process would), recording its notices."""

    def __init__(self, out: Path):
        self.notices: list[str] = []
        self.noticed = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(out,))
        self.thread.start()

    def _run(self, out: Path) -> None:
        self.result = run_sweep(
            small_sweep(rounds=1), out, inputs=CountingInputs(), notify=self._notify
        )

    def _notify(self, line: str) -> None:
        self.notices.append(line)
        self.noticed.set()

    def join(self):
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.result


@pytest.fixture
def fast_polls(monkeypatch):
    monkeypatch.setattr(sweep_module, "POLL_SECONDS", 0.02)


def test_a_run_held_elsewhere_is_waited_for_and_done_here_if_its_holder_gives_up(
    tmp_path, fast_polls
):
    victim = small_sweep(rounds=1).runs()[0].run_id
    (tmp_path / RUNS_DIR).mkdir(parents=True)
    claim = try_claim(tmp_path, victim)  # another process is computing the first run
    background = _Background(tmp_path)
    assert background.noticed.wait(60)
    assert background.notices == [
        "1 runs are being computed by another process; waiting for them (runs whose "
        "process stops are computed here)"
    ]
    assert background.thread.is_alive()
    assert len(list((tmp_path / RUNS_DIR).glob("*.parquet"))) == 3
    claim.release(finished=False)  # ... and stops (killed, interrupted) without a result
    result = background.join()
    assert victim in result.computed and len(result.computed) == 4
    assert result.elsewhere == () and len(result.rows) == 4 * 2


def test_a_run_finished_elsewhere_is_counted_not_recomputed(tmp_path, fast_polls):
    reference = run_sweep(small_sweep(rounds=1), tmp_path / "reference", inputs=CountingInputs())
    out = tmp_path / "shared"
    victim = small_sweep(rounds=1).runs()[-1].run_id
    (out / RUNS_DIR).mkdir(parents=True)
    claim = try_claim(out, victim)
    background = _Background(out)
    assert background.noticed.wait(60)
    rows = reference.rows[reference.rows["run_id"] == victim]
    write_run(out, victim, rows, {"run_id": victim})  # the other process finishes it
    claim.release(finished=True)
    result = background.join()
    assert result.elsewhere == (victim,) and victim not in result.computed
    pd.testing.assert_frame_equal(stable(result.rows), stable(reference.rows))


def test_two_sweeps_in_one_process_share_runs_through_claims(tmp_path):
    """flock claims belong to open files, so two sweeps in threads of one process (as in a
    notebook) exclude each other just as two processes do."""
    results = []

    def sweep(strategies):
        spec = small_sweep(strategies=strategies, seeds=(0, 1, 2), rounds=1)
        results.append(run_sweep(spec, tmp_path, inputs=CountingInputs()))

    threads = [
        threading.Thread(target=sweep, args=(s,))
        for s in (("entropy", "random"), ("entropy", "margin"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(len(r.computed) for r in results) == 9
    assert all(len(r.computed) + len(r.skipped) + len(r.elsewhere) == 6 for r in results)
    assert len(list((tmp_path / RUNS_DIR).glob("*.parquet"))) == 9


class _QueueSession:
    """A backend that finishes runs only when waited on, checking the driver's bookkeeping:
    never more than ``capacity`` runs in flight, each holding its claim meanwhile."""

    capacity = 3

    def __init__(self, out: Path, provider):
        self.out, self.provider = out, provider
        self.pending: list[tuple[concurrent.futures.Future, object, str]] = []
        self.most_in_flight = 0

    def submit(self, spec, sweep):
        future = concurrent.futures.Future()
        self.pending.append((future, spec, sweep))
        self.most_in_flight = max(self.most_in_flight, len(self.pending))
        return future

    def wait(self, futures):
        for _, spec, _ in self.pending:
            assert try_claim(self.out, spec.run_id) is None  # held by the driver
        future, spec, sweep = self.pending.pop(0)
        future.set_result(compute_with_provider(spec, self.provider, sweep))
        return {future}


def test_runs_in_flight_are_bounded_and_claimed(tmp_path):
    sessions = []

    class QueueBackend:
        name = "queue"

        @contextlib.contextmanager
        def open(self, provider):
            sessions.append(_QueueSession(tmp_path, provider))
            yield sessions[-1]

    sweep = small_sweep(
        learners=("zero-shot",),
        strategies=("random", "entropy", "margin"),
        seeds=(0, 1, 2),
        rounds=1,
    )
    result = run_sweep(sweep, tmp_path, backend=QueueBackend(), inputs=CountingInputs())
    assert len(result.computed) == 9 and sessions[0].most_in_flight == 3
    assert sorted(p.name for p in (tmp_path / RUNS_DIR).glob("*.claim")) == []
