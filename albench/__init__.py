"""albench: benchmarking active-learning strategies for CLIP adaptation.

The public surface is one import away::

    import albench

    sweep = albench.SweepSpec(
        datasets=("digits",), backbones=("tiny-clip",), learners=("linear",),
        strategies=("random", "entropy"), seeds=(0, 1), protocol=albench.Protocol(rounds=4),
    )
    result = albench.run_sweep(sweep, "results/notebook")   # the rows, as a DataFrame
    rows = albench.load("results/notebook")                  # any results folder

``SweepSpec``, ``RunSpec`` and ``Protocol`` are plain records (no torch); ``run_sweep`` and
``load`` import the engine when first used (PEP 562). Reports: :mod:`albench.report`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from albench.protocol import Protocol
from albench.specs import RunSpec, SweepSpec

if TYPE_CHECKING:
    from albench.results import load
    from albench.sweep import run_sweep

try:
    __version__ = version("albench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_ENGINE = {"run_sweep": "albench.sweep", "load": "albench.results"}

__all__ = ["Protocol", "RunSpec", "SweepSpec", "__version__", "load", "run_sweep"]


def __getattr__(name: str) -> Any:
    if name not in _ENGINE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_ENGINE[name]), name)
