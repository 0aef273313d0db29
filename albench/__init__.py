"""albench: benchmarking active-learning strategies for CLIP adaptation.

The public surface is one import away: ``albench.results.load``, ``albench.strategies``
(registry and built-ins), ``albench.run`` helpers live in their modules.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("albench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
