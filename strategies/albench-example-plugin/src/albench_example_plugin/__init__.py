"""Example albench strategy plugin (registered through the ``albench.strategies`` entry point)."""

from albench_example_plugin.power_margin import PowerMargin

__all__ = ["PowerMargin"]
