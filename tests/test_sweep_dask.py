"""`--backend dask`: runs on a Dask cluster give the same results as `--jobs 1`, features
travel to the workers once per (dataset, backbone), and backend options are checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from distributed import Client, LocalCluster
from runner_fakes import one_thread  # noqa: F401
from sweep_fakes import CountingInputs, stable

from albench.backends import DaskBackend, LocalBackend, make_backend
from albench.cli import main
from albench.errors import AlbenchError, InvalidSpecError, UnknownNameError
from albench.protocol import Protocol
from albench.results import load, run_selections_path
from albench.specs import SweepSpec
from albench.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")

SWEEP = SweepSpec(
    datasets=("blobs", "moons"),
    backbones=("fake",),
    learners=("linear",),
    strategies=("random", "entropy"),
    seeds=(0, 1),
    protocol=Protocol(rounds=2),
)


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded workers on loopback TCP, in this process (quick to start)."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


def test_dask_sweep_equals_jobs_1_and_scatters_once_per_pair(tmp_path, cluster, monkeypatch):
    scattered = []
    original = Client.scatter

    def counting_scatter(self, data, *args, **kwargs):
        future = original(self, data, *args, **kwargs)
        scattered.append((data.class_names, len(self.who_has([future])[future.key])))
        return future

    monkeypatch.setattr(Client, "scatter", counting_scatter)
    backend = DaskBackend(scheduler=cluster.scheduler_address)
    on_dask = run_sweep(SWEEP, tmp_path / "dask", backend=backend, inputs=CountingInputs())
    local = run_sweep(SWEEP, tmp_path / "local", jobs=1, inputs=CountingInputs())

    assert len(on_dask.computed) == 8 and len(on_dask.rows) == 8 * 3
    pd.testing.assert_frame_equal(stable(on_dask.rows), stable(local.rows))
    for run_id in local.rows["run_id"].unique():
        picks = [
            json.loads(run_selections_path(tmp_path / out, run_id).read_text())
            for out in ("dask", "local")
        ]
        assert picks[0] == picks[1]
    # one scatter per (dataset, backbone), not one per run, each copied to both workers
    assert [holders for _, holders in scattered] == [2, 2]
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")


def test_dask_sweep_resumes_like_a_local_one(tmp_path, cluster):
    run_sweep(SWEEP, tmp_path, jobs=1, inputs=CountingInputs())
    victims = sorted((tmp_path / "runs").glob("*.parquet"))[:3]
    for victim in victims:
        victim.unlink()
    backend = DaskBackend(scheduler=cluster.scheduler_address)
    again = run_sweep(SWEEP, tmp_path, backend=backend, inputs=CountingInputs())
    assert sorted(again.computed) == sorted(path.name.split(".")[0] for path in victims)
    assert len(again.skipped) == 5


def test_backend_options_are_checked():
    assert make_backend("local", jobs=3) == LocalBackend(jobs=3)
    assert make_backend("dask", workers=2) == DaskBackend(workers=2)
    with pytest.raises(UnknownNameError, match="did you mean 'dask'"):
        make_backend("dsak")
    with pytest.raises(InvalidSpecError, match="--scheduler tcp://HOST:PORT"):
        make_backend("dask")
    with pytest.raises(InvalidSpecError, match="--jobs belongs to --backend local"):
        make_backend("dask", jobs=2, workers=2)
    with pytest.raises(InvalidSpecError, match="belong to --backend dask"):
        make_backend("local", scheduler="tcp://127.0.0.1:8786")


def test_cli_refuses_bad_backends_before_any_work(tmp_path, capsys):
    out = tmp_path / "never"
    base = ["run", "--dataset", "digits", "--strategy", "random", "--out", str(out)]
    assert main([*base, "--backend", "dask"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backend dask needs either --scheduler" in err
    assert main([*base, "--backend", "ray"]) == 2
    assert "unknown backend 'ray'" in capsys.readouterr().err
    assert not out.exists()


def test_unreachable_scheduler_is_refused_before_any_feature_is_loaded(tmp_path):
    inputs = CountingInputs()
    backend = DaskBackend(scheduler="tcp://127.0.0.1:9", connect_timeout=0.5)
    with pytest.raises(
        AlbenchError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        run_sweep(SWEEP, tmp_path, backend=backend, inputs=inputs)
    assert inputs.calls == 0 and not (tmp_path / "runs").exists()


def test_cli_sweep_on_a_dask_scheduler_equals_jobs_1(tmp_path, cluster, capsys):
    argv = ["run", "--dataset", "digits", "--backbone", "tiny-clip", "--learner", "zero-shot"]
    argv += ["--strategy", "random,margin", "--seeds", "0-1", "--rounds", "2"]
    argv += ["--pool-subsample", "300"]
    dask = ["--backend", "dask", "--scheduler", cluster.scheduler_address]
    assert main([*argv, *dask, "--out", str(tmp_path / "dask")]) == 0
    assert "4 runs computed, 0 already done" in capsys.readouterr().out
    assert main([*argv, "--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    pd.testing.assert_frame_equal(stable(load(tmp_path / "dask")), stable(load(tmp_path / "local")))
