"""TCM: TypiClust while labels are few, margin afterwards (Doucet et al., 2024).

"Bridging Diversity and Uncertainty in Active Learning with Self-Supervised Pre-Training"
(Doucet, Estermann, Aczel & Wattenhofer, arXiv 2403.03728; ICLR 2024 PML4LRS workshop)
answers the cold-start problem of uncertainty sampling with a two-phase heuristic: query
with TypiClust (:mod:`albench.strategies.typiclust`) to cover the data while the labelled
set is small, then switch to margin sampling (:mod:`albench.strategies.margin`) to refine
the decision boundary. The switch point is the option ``labels_per_class``: TypiClust
while ``|L| < labels_per_class * C``, margin from then on. The paper chooses the transition
per dataset from its step size; albench makes it an explicit, per-class option instead.
"""

from __future__ import annotations

import numpy as np

from albench.capabilities import IMAGE_FEATURES, PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.margin import Margin
from albench.strategies.typiclust import TypiClust


class TCM(Strategy):
    """TypiClust below ``labels_per_class`` labels per class, margin at or above it."""

    name = "tcm"
    revision = 2  # 2: TypiClust's revision 3 (typicality kept across picks)
    category = "hybrid"
    reference = (
        "Doucet, Estermann, Aczel & Wattenhofer, Bridging Diversity and Uncertainty in "
        "Active Learning with Self-Supervised Pre-Training, arXiv:2403.03728 (2024)"
    )
    needs = frozenset({IMAGE_FEATURES, PROBABILITIES})

    def __init__(self, *, labels_per_class: float = 3.0, neighbours: int = 20):
        if labels_per_class < 0:
            raise InvalidSpecError(f"tcm labels_per_class must be >= 0, got {labels_per_class}")
        self.labels_per_class = float(labels_per_class)
        self.diverse = TypiClust(neighbours=neighbours)
        self.uncertain = Margin()

    def phase(self, ctx: StrategyContext) -> Strategy:
        """The strategy that queries this round: TypiClust before the switch, then margin."""
        if ctx.labelled.size < self.labels_per_class * ctx.n_classes:
            return self.diverse
        return self.uncertain

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        phase = self.phase(ctx)
        chosen = phase.select(ctx, budget, rng)
        return Selection(
            indices=chosen.indices, scores=chosen.scores, info={**chosen.info, "phase": phase.name}
        )
