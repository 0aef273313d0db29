"""DropQuery: samples whose prediction dropout flips, spread by k-means (Gupte et al., 2024).

"Revisiting Active Learning in the Era of Vision Foundation Models" (Gupte, Aklilu, Nirschl
& Yeung-Levy, TMLR 2024, arXiv 2401.14555; reference code ``sanketx/AL-foundation-models``,
``ALFM/src/query_strategies/dropout.py``). For every unlabelled sample, ``iterations``
dropout masks (rate ``p``, survivors scaled by 1/(1-p)) perturb the classifier's input
feature; a sample whose perturbed prediction differs from its clean prediction in more than
half of them (the reference's ``mismatch > num_iter // 2``) is a candidate. k-means over
the candidates' embeddings, one cluster per pick, then queries the candidate nearest each
centre (:mod:`albench.strategies.candidates`).

The classifier is the learner's last layer (``linear_head``) applied to its ``embed``
features, so every mask costs one matrix product and the learner is asked once. Defaults are
the reference's: ``iterations=3``, ``p=0.75``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from albench.capabilities import EMBED, LINEAR_HEAD, LinearHead
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext, as_float64
from albench.strategies.candidates import cluster_representatives
from albench.strategies.ranking import n_picks


class DropQuery(Strategy):
    """k-means representatives of the samples whose prediction dropout changes."""

    name = "dropquery"
    category = "hybrid"
    reference = (
        "Gupte, Aklilu, Nirschl & Yeung-Levy, Revisiting Active Learning in the Era of "
        "Vision Foundation Models, TMLR 2024 (arXiv:2401.14555)"
    )
    needs = frozenset({EMBED, LINEAR_HEAD})

    def __init__(self, *, iterations: int = 3, p: float = 0.75):
        if iterations < 1:
            raise InvalidSpecError(f"dropquery iterations must be >= 1, got {iterations}")
        if not 0 < p < 1:
            raise InvalidSpecError(f"dropquery p is a dropout rate in (0, 1), not {p}")
        self.iterations = int(iterations)
        self.p = float(p)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        width = ctx.features.shape[1]

        def pool_blocks() -> Iterator[np.ndarray]:
            return (block for _, block in ctx.blocks(EMBED, pool, width))

        unstable = dropout_candidates(
            pool_blocks, ctx.get(LINEAR_HEAD), self.p, self.iterations, rng
        )
        candidates = np.flatnonzero(unstable)
        z = ctx.per_row(EMBED, pool[candidates], width, as_float64)
        picked = cluster_representatives(z, candidates, pool.size, k, rng)
        return Selection(indices=pool[picked], info={"candidates": int(unstable.sum())})


def dropout_candidates(
    blocks: Callable[[], Iterable[np.ndarray]],
    head: LinearHead,
    p: float,
    iterations: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(n,) True where more than half of ``iterations`` dropout passes change the prediction.

    ``blocks()`` yields the embeddings in row blocks, the same rows in the same order at every
    call (one call per pass). Each pass draws its masks block by block, so the draws are those
    of one (n, h) mask per pass, and only a block of masks is held.
    """
    clean: list[np.ndarray] = []
    changed: list[np.ndarray] = []
    for iteration in range(iterations):
        for position, block in enumerate(blocks()):
            z = np.asarray(block, dtype=np.float64)
            if iteration == 0:
                clean.append(head.predict(z))
                changed.append(np.zeros(z.shape[0], dtype=np.int64))
            kept = rng.random(z.shape) >= p
            changed[position] += head.predict(np.where(kept, z / (1.0 - p), 0.0)) != clean[position]
    if not changed:
        return np.zeros(0, dtype=bool)
    return np.concatenate(changed) > iterations // 2
