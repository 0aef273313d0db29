"""PCB: class-balanced querying on top of any strategy (Bang, Ahn & Lee, CVPR 2024).

"Active Prompt Learning in Vision Language Models" observes that uncertainty or diversity
sampling on a CLIP learner queries a class-imbalanced set, which hurts prompt learning. PCB
lets the base strategy propose candidates, pseudo-labels them with the learner's own
prediction, and fills the budget one sample at a time from the class with the fewest labels
so far (labelled set plus picks already made).

How many candidates: by default ``pool_fraction=0.1`` of the whole pool (labelled and
unlabelled), as PCB's reference code does (``n_cand = int(len(train_x) * GAMMA)`` with
``GAMMA = 0.1`` in ``trainers/alvlm.py`` and ``scripts/alvlm/main.sh`` of
github.com/kaist-dmlab/pcb), never fewer than the budget; ``candidates=m`` asks for m x budget
instead, and ``candidates="all"`` ranks the whole unlabelled pool. Both are capped at the
unlabelled pool.

Differences from the reference, by choice: within a class the candidates are taken in the
base strategy's order (the reference shuffles them), and a class without candidates left
hands its turn to the next least-labelled class (the reference then draws random
candidates for the rest of the round).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from albench.capabilities import PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks

#: PCB's reference: candidates are 10% of the pool (``TRAINER.COOPAL.GAMMA 0.1``)
DEFAULT_POOL_FRACTION = 0.1


class PCB(Strategy):
    """Wrapper: ``pcb(<strategy>)`` (10% of the pool), ``pcb(<strategy>, pool_fraction=0.2)``,
    ``pcb(<strategy>, candidates=4)`` (4 x budget) or ``pcb(<strategy>, candidates="all")``."""

    name = "pcb"
    revision = 2  # 2: candidates default to 10% of the pool (PCB's reference)
    category = "class balance"
    reference = (
        "Bang, Ahn & Lee, Active Prompt Learning in Vision Language Models, CVPR 2024 "
        "(arXiv:2311.11178)"
    )
    needs = frozenset({PROBABILITIES})
    wraps = True

    def __init__(
        self,
        base: Strategy,
        *,
        candidates: float | str | None = None,
        pool_fraction: float | None = None,
    ):
        if not isinstance(base, Strategy):
            raise InvalidSpecError(f"pcb wraps a strategy, not {base!r}")
        if candidates is not None and pool_fraction is not None:
            raise InvalidSpecError("pcb takes candidates (x budget) or pool_fraction, not both")
        if candidates is not None and candidates != "all" and not _number_at_least(candidates, 1):
            raise InvalidSpecError(f"pcb candidates is a number >= 1 or 'all', not {candidates!r}")
        if pool_fraction is not None and not (
            _number_at_least(pool_fraction, 0) and 0 < pool_fraction <= 1
        ):
            raise InvalidSpecError(f"pcb pool_fraction is in (0, 1], not {pool_fraction!r}")
        self.base = base
        self.candidates = candidates
        self.pool_fraction = DEFAULT_POOL_FRACTION if pool_fraction is None else pool_fraction

    def required_capabilities(self) -> frozenset[str]:
        return self.base.required_capabilities() | self.needs

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        k = n_picks(budget, ctx.unlabelled.size)
        proposal = self.base.select(ctx, self.n_candidates(ctx, k), rng)
        pool = np.asarray(proposal.indices, dtype=np.int64)
        pseudo = ctx.per_row(  # the candidates' rows only, a block at a time, where computed
            PROBABILITIES, pool, ctx.n_classes, lambda block: block.argmax(1), on_device=True
        ).astype(np.int64)
        counts = np.bincount(ctx.labelled_labels, minlength=ctx.n_classes)
        picked = balanced_order(pseudo, counts, k)
        scores = None if proposal.scores is None else np.asarray(proposal.scores)[picked]
        info = {"base": repr(self.base), "candidates": int(pool.size)}
        return Selection(indices=pool[picked], scores=scores, info=info)

    def n_candidates(self, ctx: StrategyContext, k: int) -> int:
        """How many candidates the base strategy proposes for ``k`` picks."""
        n_unlabelled = ctx.unlabelled.size
        if self.candidates == "all":
            return n_unlabelled
        if self.candidates is not None:
            return min(math.ceil(self.candidates * k), n_unlabelled)
        return min(max(int(ctx.n_pool * self.pool_fraction), k), n_unlabelled)

    def __repr__(self) -> str:
        if self.candidates is not None:
            return f"pcb({self.base!r}, candidates={self.candidates})"
        return f"pcb({self.base!r}, pool_fraction={self.pool_fraction})"


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


def _number_at_least(value: object, low: float) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and value >= low
