"""Explicit, named random streams.

Each run owns one :class:`numpy.random.SeedSequence`; every consumer of randomness asks for
a stream by name, so adding a consumer never shifts the draws of another. The initial
labelled set is seeded from (dataset, seed) alone so that every strategy of a sweep starts
from the same set and per-seed comparisons are paired.
"""

from __future__ import annotations

import hashlib

import numpy as np

STREAMS = ("initial", "learner", "strategy", "subsample")


def _name_key(*parts: str) -> list[int]:
    """Stable 32-bit words from strings (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def stream(seed: int, name: str, *context: str) -> np.random.Generator:
    """Generator for the named stream of ``seed``, further keyed by ``context`` strings."""
    sequence = np.random.SeedSequence(entropy=[int(seed), *_name_key(name, *context)])
    return np.random.default_rng(sequence)


def torch_seed(rng: np.random.Generator) -> int:
    """A seed for a ``torch.Generator`` drawn from a numpy stream."""
    return int(rng.integers(0, 2**63 - 1))
