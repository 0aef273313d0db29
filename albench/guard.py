"""Calling a strategy inside a run: its output is checked, and a plugin's time is watched.

Every selection is checked before it changes the labelled set: a :class:`Selection`, one
index per label of the budget, integer indices (``numpy.asarray(..., int64)`` would silently
truncate 1.5 to 1), inside the pool, distinct and not labelled yet; pseudo-labels likewise;
``info`` JSON-serialisable. A failure names the strategy, the round and the run.

Plugin strategies (any class defined outside albench, or a built-in wrapper around one) are
also guarded against raising and hanging: an exception becomes a :class:`StrategyError` that
keeps the plugin's message and chains the original, and from round 2 on a call that takes
longer than ``max(10 x the median of its earlier rounds, 1 s)`` is abandoned with a
:class:`StrategyTimeoutError`. The plugin runs in a helper thread so that the limit holds in
any thread (Dask workers run tasks outside the main thread, where ``signal.alarm`` cannot
reach). Python cannot kill a thread: an abandoned call keeps running in its daemon thread
until it returns or the process ends, which the error that stops the sweep brings about.
Round 1 has no earlier time to compare with and is not limited. Built-in strategies run
directly, unwatched: their failures are bugs and keep their tracebacks.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from albench.errors import AlbenchError, StrategyError, StrategyTimeoutError
from albench.strategies import Selection, Strategy, StrategyContext

#: a plugin's call may take this many times the median of its earlier rounds ...
SLOWDOWN_FACTOR = 10.0
#: ... but never less than this many seconds (timer noise on fast strategies)
MIN_LIMIT_SECONDS = 1.0


class SelectionError(StrategyError):
    """A strategy returned an unusable selection (repeated, labelled, too many indices...)."""


@dataclass(frozen=True)
class Picked:
    """A checked selection: indices to annotate and pseudo-labels, all int64."""

    indices: np.ndarray
    pseudo_indices: np.ndarray
    pseudo_labels: np.ndarray
    info: dict[str, Any]
    seconds: float


def is_built_in(strategy: Strategy) -> bool:
    """True when the strategy and every strategy it wraps are defined inside albench."""
    if type(strategy).__module__.split(".")[0] != "albench":
        return False
    base = getattr(strategy, "base", None)
    return base is None or is_built_in(base)


@dataclass
class SelectGuard:
    """Calls ``strategy.select`` for one run, round after round (see the module docstring)."""

    strategy: Strategy
    label: str
    run_id: str
    n_pool: int
    n_classes: int
    seconds: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.watched = not is_built_in(self.strategy)

    def limit(self) -> float | None:
        """Seconds the next call of a plugin may take; None for round 1 and built-ins."""
        if not self.watched or not self.seconds:
            return None
        return max(SLOWDOWN_FACTOR * statistics.median(self.seconds), MIN_LIMIT_SECONDS)

    def select(
        self, ctx: StrategyContext, budget: int, rng: np.random.Generator, round_: int
    ) -> Picked:
        """A checked selection of ``budget`` pool indices for round ``round_``."""
        where = f"strategy {self.label!r} in round {round_} of run {self.run_id}"
        if self.watched:
            selection, seconds = self._watched_call(ctx, budget, rng, where)
        else:
            start = time.perf_counter()
            selection = self.strategy.select(ctx, budget, rng)
            seconds = time.perf_counter() - start
        self.seconds.append(seconds)
        try:
            return self._check(selection, ctx.labelled, budget, seconds)
        except SelectionError as error:
            raise SelectionError(f"{where}: {error}") from None

    def _watched_call(
        self, ctx: StrategyContext, budget: int, rng: np.random.Generator, where: str
    ) -> tuple[Any, float]:
        limit = self.limit()
        outcome: dict[str, Any] = {}

        def call() -> None:
            start = time.perf_counter()
            try:
                outcome["selection"] = self.strategy.select(ctx, budget, rng)
            except BaseException as error:  # re-raised in the calling thread below
                outcome["error"] = error
            outcome["seconds"] = time.perf_counter() - start

        worker = threading.Thread(target=call, name=f"albench-select-{self.label}", daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            usual = statistics.median(self.seconds)
            raise StrategyTimeoutError(
                f"{where}: select() still running after {limit:.3g} s, over "
                f"{SLOWDOWN_FACTOR:g}x its usual {usual:.3g} s (median of rounds "
                f"1-{len(self.seconds)}); stopped"
            )
        error = outcome.get("error")
        if error is not None:
            kind = "" if isinstance(error, AlbenchError) else f"{type(error).__name__}: "
            raise StrategyError(f"{where} raised {kind}{error}") from error
        return outcome["selection"], outcome["seconds"]

    def _check(self, selection: Any, labelled: np.ndarray, budget: int, seconds: float) -> Picked:
        if not isinstance(selection, Selection):
            raise SelectionError(f"returned {type(selection).__name__}, not a Selection")
        picks = _integers(selection.indices, "indices")
        if len(picks) != budget:
            few = "too few" if len(picks) < budget else "too many"
            raise SelectionError(f"returned {len(picks)} indices for a budget of {budget} ({few})")
        _in_range(picks, self.n_pool, "an index")
        if len(np.unique(picks)) != len(picks):
            raise SelectionError("returned an index twice")
        if np.isin(picks, labelled).any():
            raise SelectionError("returned an already labelled index")
        pseudo_indices, pseudo_labels = self._pseudo(selection)
        return Picked(picks, pseudo_indices, pseudo_labels, _info(selection.info), seconds)

    def _pseudo(self, selection: Selection) -> tuple[np.ndarray, np.ndarray]:
        if selection.pseudo_indices is None or selection.pseudo_labels is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        indices = _integers(selection.pseudo_indices, "pseudo_indices")
        labels = _integers(selection.pseudo_labels, "pseudo_labels")
        if len(indices) != len(labels):
            raise SelectionError(
                f"returned {len(indices)} pseudo_indices but {len(labels)} pseudo_labels"
            )
        _in_range(indices, self.n_pool, "a pseudo-labelled index")
        _in_range(labels, self.n_classes, "a pseudo-label")
        if len(np.unique(indices)) != len(indices):
            raise SelectionError("returned a pseudo-labelled index twice")
        return indices, labels


def _integers(values: Any, what: str) -> np.ndarray:
    """``values`` as a flat int64 array; SelectionError for floats, booleans or objects."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise SelectionError(f"{what} are not an array of integers ({error})") from None
    array = array.ravel()
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise SelectionError(
            f"{what} must be integers, got {array.dtype} (e.g. {array[0].item()!r}); return pool "
            "indices, not scores or a mask"
        )
    return array.astype(np.int64)


def _in_range(values: np.ndarray, size: int, what: str) -> None:
    outside = values[(values < 0) | (values >= size)]
    if outside.size:
        raise SelectionError(f"returned {what} outside 0..{size - 1}: {int(outside[0])}")


def _info(info: Any) -> dict[str, Any]:
    """``selection.info`` as a dict that the selections record can store as JSON."""
    try:
        plain = dict(info)
        json.dumps(plain, default=str)
    except (TypeError, ValueError) as error:
        raise SelectionError(f"info is not a JSON-serialisable mapping ({error})") from None
    return plain
