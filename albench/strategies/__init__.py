"""Acquisition strategies: the contract, the registry and the built-in strategies.

Every module of this package is imported here, so each built-in strategy registers itself
by being defined (one module per strategy; adding a module is all it takes). Plugins from
other distributions are discovered lazily by :func:`get_strategy` / :func:`strategy_table`.
"""

from __future__ import annotations

import importlib
import pkgutil

from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.registry import (
    REGISTRY,
    get_strategy,
    load_plugins,
    split_specs,
    strategy_table,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "REGISTRY",
    "Selection",
    "Strategy",
    "StrategyContext",
    "get_strategy",
    "load_plugins",
    "split_specs",
    "strategy_table",
]
