"""One visual identity per strategy, shared by every figure of a report.

Each strategy gets a colour from seaborn's colour-blind palette *and* its own line style and
marker, so curves stay distinguishable in greyscale print. Strategies are always taken in
sorted order, so the same set of names always gets the same styles.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import seaborn as sns

LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

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


def strategy_styles(strategies: Iterable[str]) -> dict[str, StrategyStyle]:
    """Styles for the sorted strategies; colour, line style and marker cycle independently.

    With 10 colours, 4 line styles and 8 markers the first 40 strategies all differ.
    """
    names = sorted(set(strategies))
    palette = sns.color_palette("colorblind", 10)
    cycle = zip(itertools.cycle(palette), itertools.cycle(LINESTYLES), itertools.cycle(MARKERS))
    return {
        name: StrategyStyle(tuple(color), linestyle, marker)
        for name, (color, linestyle, marker) in zip(names, cycle, strict=False)
    }
