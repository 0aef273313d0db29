"""Dual-prompt acquisition: lowest correctness probability, balanced over predicted classes.

Wang, Song & Xia, "Explicit Uncertainty Modeling for Active CLIP Adaptation with Dual Prompt
Tuning" (arXiv 2602.04340, 2026). The learner's negative prompt gives u(x) = p_yes(x, y_hat),
its probability that the predicted label is correct (``correctness_prob``). Samples are
ranked by u within each predicted class and the budget is spread over predicted classes, so
that a few confusing classes cannot absorb the whole query. The most confident samples of
each predicted class may be pseudo-labelled; they are returned apart from the query and
never count as annotation budget.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from albench.capabilities import CORRECTNESS_PROB, PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext, as_float64
from albench.strategies.ranking import n_picks


def rank_within_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... restarting at every new value of an already sorted group array."""
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, sorted_groups.size])
    return np.arange(sorted_groups.size) - np.repeat(starts, sizes)


def round_robin(groups: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of ``k`` items taken in turns from each group, lowest score first.

    Within a group, items are ordered by ascending score, ties to the lower position. Pass r
    takes every group's r-th item; inside a pass, items are taken in ascending score (ties to
    the lower group label), so when the budget ends mid-pass the most uncertain heads win.
    Groups that run out simply stop contributing, which hands their share to the others.
    """
    order = np.lexsort((np.arange(scores.size), scores, groups))
    sorted_groups = groups[order]
    rank = rank_within_groups(sorted_groups)
    turn = np.lexsort((sorted_groups, scores[order], rank))
    return order[turn[:k]]


def most_confident(
    groups: np.ndarray, scores: np.ndarray, per_group: int | None, threshold: float | None
) -> np.ndarray:
    """Positions of each group's highest-scoring items: at most ``per_group`` of them, and
    only those with score >= ``threshold`` (either limit may be None). Ties to the lower
    position; the result is ordered by group, then descending score."""
    order = np.lexsort((np.arange(scores.size), -scores, groups))
    rank = rank_within_groups(groups[order])
    keep = np.ones(order.size, dtype=bool)
    if per_group is not None:
        keep &= rank < per_group
    if threshold is not None:
        keep &= scores[order] >= threshold
    return order[keep]


class DualPrompt(Strategy):
    """``dual-prompt(pseudo_per_class=0, pseudo_threshold=None)``.

    Queries the unlabelled samples with the lowest u(x) per predicted class, round-robin over
    predicted classes (:func:`round_robin`). With ``pseudo_per_class`` and/or
    ``pseudo_threshold`` set, also proposes pseudo-labels (the predicted class) for the most
    confident remaining samples of each predicted class (:func:`most_confident`).
    """

    name = "dual-prompt"
    category = "uncertainty + class-balance"
    reference = (
        "Wang, Song & Xia, Explicit Uncertainty Modeling for Active CLIP Adaptation with "
        "Dual Prompt Tuning, arXiv:2602.04340 (2026)"
    )
    needs: ClassVar[frozenset[str]] = frozenset({PROBABILITIES, CORRECTNESS_PROB})

    def __init__(self, *, pseudo_per_class: int = 0, pseudo_threshold: float | None = None):
        if not isinstance(pseudo_per_class, int) or pseudo_per_class < 0:
            raise InvalidSpecError(
                f"dual-prompt pseudo_per_class must be an integer >= 0, got {pseudo_per_class!r}"
            )
        if pseudo_threshold is not None and not 0 <= pseudo_threshold <= 1:
            raise InvalidSpecError(
                f"dual-prompt pseudo_threshold must lie in [0, 1], got {pseudo_threshold!r}"
            )
        self.pseudo_per_class = pseudo_per_class
        self.pseudo_threshold = pseudo_threshold

    @property
    def pseudo_labelling(self) -> bool:
        return self.pseudo_per_class > 0 or self.pseudo_threshold is not None

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        predicted = ctx.per_row(PROBABILITIES, pool, ctx.n_classes, _predicted, on_device=True)
        # one value per row, but the learner scores every class to find it: C-wide blocks
        u = ctx.per_row(CORRECTNESS_PROB, pool, ctx.n_classes, as_float64, on_device=True)
        picked = round_robin(predicted, u, n_picks(budget, pool.size))
        info = {"per_class": np.bincount(predicted[picked], minlength=ctx.n_classes).tolist()}
        if not self.pseudo_labelling:
            return Selection(indices=pool[picked], scores=u[picked], info=info)
        rest = np.setdiff1d(np.arange(pool.size), picked)
        per_class = self.pseudo_per_class or None
        confident = rest[most_confident(predicted[rest], u[rest], per_class, self.pseudo_threshold)]
        return Selection(
            indices=pool[picked],
            scores=u[picked],
            pseudo_indices=pool[confident],
            pseudo_labels=predicted[confident],
            info=info,
        )

    def __repr__(self) -> str:
        if not self.pseudo_labelling:
            return self.name
        return (
            f"{self.name}(pseudo_per_class={self.pseudo_per_class}, "
            f"pseudo_threshold={self.pseudo_threshold})"
        )


def _predicted(probabilities: Any) -> Any:
    """The predicted class of each row (the first of equal maxima, in numpy and torch)."""
    return probabilities.argmax(1)
