"""Where a sweep's runs are computed: in this process, in local processes, or on Dask.

A backend only computes: it takes a :class:`RunSpec` and gives back a future of its
:class:`RunResult`. The sweep driver (``albench.sweep``) decides what to submit, holds the
run claims (``albench.claims``), keeps a bounded number of runs in flight
(:attr:`Session.capacity`) and writes every result itself, so workers never touch the
results folder and need no shared file system with it.

Both backends speak ``concurrent.futures``-style futures rather than ``joblib.Parallel``:
the driver must take a run's claim right before that run is dispatched and write each result
as it arrives, which a submit / wait loop does plainly and a generator consumed by joblib's
dispatch thread does not.

``local`` runs in this process (``jobs == 1``) or in joblib's loky worker processes (the pool
``joblib.Parallel`` uses), each worker loading features from the local cache. ``dask`` uses
``dask.distributed`` directly, not joblib's Dask backend, because features must travel to
workers once per (dataset, backbone), not once per run: the driver loads them and
``Client.scatter(..., broadcast=True)`` sends one copy to every worker, and each run's task
takes the scattered future as its argument. Every run uses one torch / BLAS thread whatever
the backend, so results are identical across backends and worker counts.
"""

from __future__ import annotations

import concurrent.futures
import logging
import signal
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
from threadpoolctl import threadpool_limits

from albench.errors import AlbenchError, InvalidSpecError, UnknownNameError
from albench.inputs import RunInputs
from albench.joined_inputs import spec_inputs
from albench.runner import RunResult, run
from albench.scenarios import scenario_sources
from albench.specs import RunSpec

#: (dataset, backbone, data_root) -> features of a run; picklable for worker processes
InputsProvider = Callable[[str, str, "str | None"], RunInputs]


class Session(Protocol):
    """An open backend: submit runs, wait for some to finish."""

    @property
    def capacity(self) -> int:
        """How many runs the driver keeps in flight (submitted, not yet collected)."""

    def submit(self, spec: RunSpec, sweep: str) -> Any:
        """A future whose ``result()`` is the run's :class:`RunResult`."""

    def wait(self, futures: Collection[Any]) -> set[Any]:
        """Block until at least one of ``futures`` is done; the done ones."""


class Backend(Protocol):
    """A configured backend; :meth:`open` starts it for one sweep."""

    name: ClassVar[str]

    def open(self, provider: InputsProvider) -> AbstractContextManager[Session]:
        """Start workers (or connect); closed, and its runs stopped, when the block ends."""


# --------------------------------------------------------------------------- one run


class _OneThread:
    """One torch / BLAS thread while any run of this process computes (threads included).

    Dask workers may run several runs in threads of one process; the limits are process-wide,
    so they are set by the first run to start and restored by the last one to finish.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: tuple[int, Any] | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                threads = torch.get_num_threads()
                torch.set_num_threads(1)
                self._saved = (threads, threadpool_limits(limits=1))
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._saved is not None:
                    threads, limiter = self._saved
                    limiter.restore_original_limits()
                    torch.set_num_threads(threads)
                    self._saved = None


one_thread = _OneThread()


def compute_run(spec: RunSpec, inputs: RunInputs, sweep: str) -> RunResult:
    """One run on one thread (what every backend executes)."""
    with one_thread():
        return run(spec, inputs, sweep=sweep)


def compute_with_provider(spec: RunSpec, provider: InputsProvider, sweep: str) -> RunResult:
    """One run whose features the worker loads itself (local backends share the cache)."""
    return compute_run(spec, spec_inputs(spec, provider), sweep)


@contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Worker processes started in this block ignore Ctrl-C for their whole life.

    A terminal sends Ctrl-C to the whole process group; the driver stops the sweep and its
    workers itself, and workers hit too would print tracebacks of their own. An ignored
    signal stays ignored across fork and exec (and Python and asyncio then leave it so);
    the driver ignores it only while starting workers, a moment.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives Ctrl-C)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- local


class _InlineSession:
    """Runs in this process, one at a time: ``submit`` computes and returns a done future."""

    capacity = 1

    def __init__(self, provider: InputsProvider):
        self.provider = provider

    def submit(self, spec: RunSpec, sweep: str) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(compute_with_provider(spec, self.provider, sweep))
        return future

    def wait(self, futures: Collection[Any]) -> set[Any]:
        return set(futures)


class _ProcessSession:
    """joblib's loky worker processes; each loads (and keeps) features from the cache."""

    def __init__(self, provider: InputsProvider, jobs: int):
        from joblib.externals.loky import get_reusable_executor

        self.provider, self.capacity = provider, jobs
        with _workers_ignore_ctrl_c():
            self.executor = get_reusable_executor(max_workers=jobs, timeout=300)

    def submit(self, spec: RunSpec, sweep: str) -> concurrent.futures.Future:
        with _workers_ignore_ctrl_c():  # loky starts its workers and threads on submit
            return self.executor.submit(compute_with_provider, spec, self.provider, sweep)

    def wait(self, futures: Collection[Any]) -> set[Any]:
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def abort(self) -> None:
        """Stop runs still computing (the sweep was interrupted or failed)."""
        self.executor.shutdown(wait=False, kill_workers=True)


@dataclass(frozen=True)
class LocalBackend:
    """``--backend local``: ``jobs`` runs at once on this machine (1: in this process)."""

    name: ClassVar[str] = "local"
    jobs: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise InvalidSpecError("--jobs must be at least 1")

    @classmethod
    def from_options(cls, jobs: int, scheduler: str | None, workers: int | None) -> LocalBackend:
        if scheduler is not None or workers is not None:
            raise InvalidSpecError(
                "--scheduler and --workers belong to --backend dask; the local backend takes --jobs"
            )
        return cls(jobs=jobs)

    @contextmanager
    def open(self, provider: InputsProvider) -> Iterator[Session]:
        if self.jobs == 1:
            yield _InlineSession(provider)
            return
        session = _ProcessSession(provider, self.jobs)
        try:
            yield session
        except BaseException:
            session.abort()
            raise


# --------------------------------------------------------------------------- dask


class _DaskSession:
    """Runs as Dask tasks; features scattered to every worker once per (dataset, backbone,
    and the datasets a scenario draws pool images from).

    A worker lost mid-run is the scheduler's to handle: it reruns the task elsewhere (up to
    ``distributed.scheduler.allowed-failures`` times; a run that outlives no worker after
    that ends the sweep in one line naming it). A lost scheduler loses every task in flight,
    so it ends the sweep with one :class:`AlbenchError`; the runs already written stay and a
    rerun on a new cluster computes the rest.
    """

    def __init__(self, client: Any, provider: InputsProvider, where: str):
        self.client, self.provider, self.where = client, provider, where
        self.scattered: dict[tuple[str | None, ...], Any] = {}
        self.specs: dict[Any, RunSpec] = {}  # task key -> its run, to name a killer run
        with self._scheduler():
            self.capacity = self._capacity()

    def _capacity(self) -> int:
        """Two runs per worker thread, so each thread has its next run queued; asked of the
        scheduler again after each wait, since workers come and go (adaptive clusters)."""
        return 2 * max(1, sum(self.client.nthreads().values()))

    def submit(self, spec: RunSpec, sweep: str) -> Any:
        sources = scenario_sources(spec.protocol.scenario)
        key = (spec.dataset, spec.backbone, spec.data_root, *sources)
        if key not in self.scattered:
            inputs = spec_inputs(spec, self.provider)
            with self._scheduler():
                self.scattered[key] = self.client.scatter(inputs, broadcast=True, hash=False)
        with self._scheduler():
            future = self.client.submit(compute_run, spec, self.scattered[key], sweep, pure=False)
        self.specs[future.key] = spec
        return future

    def wait(self, futures: Collection[Any]) -> set[Any]:
        from distributed import wait

        with self._scheduler():
            done, _ = wait(list(futures), return_when="FIRST_COMPLETED")
            self.capacity = self._capacity()
            killers = {future for future in done if _killed_its_workers(future)}
        if killers == set(done):  # only once the good results beside them are handed over
            spec = self.specs[next(iter(killers)).key]
            raise AlbenchError(
                f"run {spec.run_id} ({spec.strategy}, {spec.learner_spec}, seed {spec.seed} "
                f"on {spec.dataset}) died with its Dask worker on every attempt "
                "(distributed.scheduler.allowed-failures), perhaps out of memory; the runs "
                "finished so far are kept"
            )
        for future in set(done) - killers:
            del self.specs[future.key]
        return set(done) - killers

    @contextmanager
    def _scheduler(self) -> Iterator[None]:
        """A lost scheduler (futures cancelled by the client, or no answer) as one line."""
        try:
            yield
        except concurrent.futures.CancelledError:
            raise self._lost("the runs in flight were cancelled") from None
        except OSError as error:
            raise self._lost(str(error).strip() or type(error).__name__) from None

    def _lost(self, why: str) -> AlbenchError:
        return AlbenchError(
            f"lost the Dask scheduler at {self.where} mid-sweep ({why}); the runs finished "
            "so far are kept: restart the cluster and rerun the same albench run command to "
            "compute the rest"
        )


def _killed_its_workers(future: Any) -> bool:
    """Whether every attempt of the task died with its worker (Dask's KilledWorker), most
    often a run that needs more memory than a worker has."""
    from distributed import KilledWorker

    return future.status == "error" and isinstance(future.exception(), KilledWorker)


@dataclass(frozen=True)
class DaskBackend:
    """``--backend dask``: an existing cluster (``scheduler`` address) or a local one
    (``workers`` processes of one thread each)."""

    name: ClassVar[str] = "dask"
    scheduler: str | None = None
    workers: int | None = None
    #: seconds to wait for the scheduler to answer
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if (self.scheduler is None) == (self.workers is None):
            raise InvalidSpecError(
                "--backend dask needs either --scheduler tcp://HOST:PORT (an existing "
                "cluster) or --workers N (a local one)"
            )
        if self.workers is not None and self.workers < 1:
            raise InvalidSpecError("--workers must be at least 1")

    @classmethod
    def from_options(cls, jobs: int, scheduler: str | None, workers: int | None) -> DaskBackend:
        if jobs != 1:
            raise InvalidSpecError("--jobs belongs to --backend local; Dask takes --workers")
        return cls(scheduler=scheduler, workers=workers)

    @contextmanager
    def open(self, provider: InputsProvider) -> Iterator[Session]:
        from distributed import Client, LocalCluster

        cluster = None
        where = self.scheduler or "a local cluster"
        try:
            if self.scheduler is not None:
                client = Client(self.scheduler, timeout=self.connect_timeout)
            else:
                with _workers_ignore_ctrl_c():
                    cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        dashboard_address=None,
                        silence_logs=logging.CRITICAL,  # run errors reach the driver as results
                    )
                client = Client(cluster)
        except (OSError, TimeoutError) as error:
            raise AlbenchError(f"cannot reach the Dask scheduler at {where}: {error}") from None
        try:
            yield _DaskSession(client, provider, where)
        finally:
            with _quiet("distributed", "distributed.client"):  # it logs a lost scheduler
                client.close()
            if cluster is not None:
                cluster.close()


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence these loggers for the block: the driver reports cluster failures in one line."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


#: ``--backend`` name -> backend class (``from_options(jobs, scheduler, workers)``)
BACKENDS: dict[str, type[LocalBackend] | type[DaskBackend]] = {
    backend.name: backend for backend in (LocalBackend, DaskBackend)
}


def make_backend(
    name: str, *, jobs: int = 1, scheduler: str | None = None, workers: int | None = None
) -> Backend:
    """The backend called ``name``, checking that it takes the options given."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    return BACKENDS[name].from_options(jobs, scheduler, workers)
