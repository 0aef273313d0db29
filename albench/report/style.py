"""One visual identity per strategy, the same in every report.

A strategy's colour, line style and marker come from its *name*, never from its position
among the strategies of a report, so ``random`` looks the same in every figure a reader
compares. Each look is a slot s of :data:`SLOTS`: colour ``s % 11``, line style ``s % 4``,
marker ``s % 7``; as 11, 4 and 7 are coprime, the 308 slots are 308 different looks, and
neighbouring slots differ in all three (so curves stay apart in greyscale print too).
The built-in strategies own fixed slots (:data:`KNOWN`); any other name starts at a slot
drawn from a hash of the name and moves to the next free slot only when that one is taken
in the same report. Every colour has a contrast of at least 3:1 against white (WCAG 2.1,
non-text graphics).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.colors import to_rgb

#: Colour-blind-aware colours, dark enough for thin lines on white.
COLORS = (
    "#595959", "#0072B2", "#D55E00", "#009E73", "#AA3377", "#332288",
    "#996600", "#7570B3", "#000000", "#117733", "#0087A5",
)  # fmt: skip
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SLOTS = math.lcm(len(COLORS), len(LINESTYLES), len(MARKERS))
#: Fixed slots of the built-in strategies: distinct colours for the usual comparison, and
#: the baseline ``random`` in neutral grey.
KNOWN = {
    "random": 0, "entropy": 1, "margin": 2, "least-confidence": 3, "coreset": 4, "badge": 5,
    "pcb(badge)": 6, "typiclust": 7, "probcover": 8, "dual-prompt": 9,
}  # fmt: skip

#: Matplotlib settings for every report figure. Strategy and dataset names are user input:
#: ``text.parse_math`` off keeps a ``$`` in a name from being read as mathtext.
RC = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.dpi": 110,
}


@dataclass(frozen=True)
class StrategyStyle:
    color: tuple[float, float, float]
    linestyle: str
    marker: str

    def line(self) -> dict[str, object]:
        """Keyword arguments for ``Axes.plot``."""
        return {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}


def slot_style(slot: int) -> StrategyStyle:
    """The look of one slot (see the module docstring)."""
    return StrategyStyle(
        to_rgb(COLORS[slot % len(COLORS)]),
        LINESTYLES[slot % len(LINESTYLES)],
        MARKERS[slot % len(MARKERS)],
    )


def preferred_slot(name: str) -> int:
    """The slot a name asks for: its fixed one, or one from a stable hash of the name."""
    if name in KNOWN:
        return KNOWN[name]
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % SLOTS


def strategy_styles(strategies: Iterable[str]) -> dict[str, StrategyStyle]:
    """Styles for the strategies, in sorted order; every strategy gets a look of its own.

    Names claim their preferred slots built-ins first, then the others in sorted order;
    a taken slot passes the name on to the next free one.
    """
    names = sorted(set(strategies))
    taken: dict[int, str] = {}
    for name in sorted(names, key=lambda n: (n not in KNOWN, n)):
        slot = preferred_slot(name)
        while slot in taken:
            slot = (slot + 1) % SLOTS
        taken[slot] = name
    slots = {name: slot for slot, name in taken.items()}
    return {name: slot_style(slots[name]) for name in names}
