"""PCB: class-balanced querying on top of any strategy (Bang, Ahn & Lee, CVPR 2024).

"Active Prompt Learning in Vision Language Models" observes that uncertainty or diversity
sampling on a CLIP learner queries a class-imbalanced set, which hurts prompt learning. PCB
lets the base strategy propose ``candidates`` x budget samples (or, with
``candidates="all"``, rank the whole unlabelled pool), pseudo-labels them with the
learner's own prediction, and fills the budget one sample at a time from the class with the
fewest labels so far (labelled set plus picks already made), taking that class's candidates
in the base strategy's order.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from albench.capabilities import PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks


class PCB(Strategy):
    """Wrapper: ``pcb(<strategy>, candidates=4)`` or ``pcb(<strategy>, candidates="all")``."""

    name = "pcb"
    category = "class balance"
    reference = (
        "Bang, Ahn & Lee, Active Prompt Learning in Vision Language Models, CVPR 2024 "
        "(arXiv:2311.11178)"
    )
    needs = frozenset({PROBABILITIES})
    wraps = True

    def __init__(self, base: Strategy, *, candidates: float | str = 4):
        if not isinstance(base, Strategy):
            raise InvalidSpecError(f"pcb wraps a strategy, not {base!r}")
        number = isinstance(candidates, (int, float)) and not isinstance(candidates, bool)
        if candidates != "all" and not (number and candidates >= 1):
            raise InvalidSpecError(f"pcb candidates is a number >= 1 or 'all', not {candidates!r}")
        self.base = base
        self.candidates = candidates

    def required_capabilities(self) -> frozenset[str]:
        return self.base.required_capabilities() | self.needs

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        n_unlabelled = ctx.unlabelled.size
        k = n_picks(budget, n_unlabelled)
        wanted = n_unlabelled if self.candidates == "all" else math.ceil(self.candidates * k)
        n_candidates = min(wanted, n_unlabelled)
        proposal = self.base.select(ctx, n_candidates, rng)
        pool = np.asarray(proposal.indices, dtype=np.int64)
        pseudo = np.asarray(ctx.probabilities())[pool].argmax(axis=1)
        counts = np.bincount(ctx.labelled_labels, minlength=ctx.n_classes)
        picked = balanced_order(pseudo, counts, k)
        scores = None if proposal.scores is None else np.asarray(proposal.scores)[picked]
        info = {"base": repr(self.base), "candidates": int(pool.size)}
        return Selection(indices=pool[picked], scores=scores, info=info)

    def __repr__(self) -> str:
        return f"pcb({self.base!r}, candidates={self.candidates})"


def balanced_order(pseudo: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Positions of ``k`` candidates, each from the least-counted class that has one left.

    ``pseudo``: candidate pseudo-labels in proposal order; ``counts``: labels per class so
    far (updated with every pick). Ties between classes go to the lower class index.
    """
    counts = np.array(counts, dtype=np.int64)
    queues = {int(c): deque(np.flatnonzero(pseudo == c)) for c in np.unique(pseudo)}
    picked: list[int] = []
    for _ in range(k):
        classes = np.fromiter(queues, dtype=np.int64)
        cls = int(classes[np.argmin(counts[classes])])
        picked.append(int(queues[cls].popleft()))
        counts[cls] += 1
        if not queues[cls]:
            del queues[cls]
    return np.asarray(picked, dtype=np.int64)
