"""User-facing errors.

Everything a user can get wrong (an unknown name, a bad budget, missing weights offline, a
corrupt cache) raises an :class:`AlbenchError` subclass. The CLI prints ``str(error)`` on
one line and exits with status 2; programming errors keep their tracebacks.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AlbenchError(Exception):
    """Base class of every error caused by user input or the user's environment."""


class UnknownNameError(AlbenchError, LookupError):
    """A name (dataset, backbone, strategy, learner) that no registry knows."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name, self.known = kind, name, sorted(known)
        message = f"unknown {kind} {name!r}"
        close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif self.known:
            message += f"; known: {', '.join(self.known)}"
        super().__init__(message)


class DataNotFoundError(AlbenchError, FileNotFoundError):
    """Dataset files missing; the message says what to fetch and where to put it."""


class PartialDataError(DataNotFoundError):
    """A copy of a dataset with fewer (or other) images than its spec states."""


class UnreadableImageError(AlbenchError):
    """An image file that cannot be decoded (empty, truncated, not an image)."""


class WeightsNotFoundError(AlbenchError, FileNotFoundError):
    """Backbone weights missing (typically offline); the message names file and place."""


class CacheCorruptError(AlbenchError):
    """A feature-cache entry failed its checksum and recomputation was not allowed."""


class InvalidSpecError(AlbenchError, ValueError):
    """A run or sweep specification that cannot be run (bad budget, bad seeds, ...)."""


class CapabilityError(AlbenchError):
    """A strategy needs a capability the learner does not provide."""


class FeatureError(AlbenchError):
    """Features that cannot be used: NaN or inf values, or dimensions that disagree."""


class StrategyError(AlbenchError):
    """A strategy failed inside a run: it raised, returned an unusable selection or hung.

    The message names the strategy, the round and the run, so that a sweep of many runs
    points at the one that broke.
    """


class StrategyTimeoutError(StrategyError, TimeoutError):
    """A plugin strategy took far longer than its own earlier rounds (see albench.guard)."""


class ResultsError(AlbenchError):
    """Results files that are missing, unreadable or do not match the schema."""


class DiskFullError(AlbenchError):
    """A write refused for lack of space (disk full, quota exceeded); nothing half-written
    is left where readers look."""
