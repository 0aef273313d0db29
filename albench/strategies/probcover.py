"""ProbCover: greedy maximum coverage of delta-balls (Yehuda et al., NeurIPS 2022).

"Active Learning Through a Covering Lens" picks, B times, the unlabelled sample whose ball
of radius delta (here: cosine distance < delta on L2-normalised image features) covers the
most samples not yet covered by the labelled set or earlier picks. Once everything is
covered the remaining picks are uniform. The ball graph is sparse and built in row blocks
(:mod:`albench.kernels.balls`), never as a dense N x N matrix.

Default delta (paper sec. 4): the largest radius whose balls are pure for a fraction
``purity`` (0.95) of samples, purity judged on k-means pseudo-labels with one cluster per
class and estimated on ``purity_sample`` random query points against the whole pool.

Large pools: the graph's edges grow with N^2 / C (the reference builds it over the whole
pool). When more than ``max_pool`` rows (albench's choice, 50,000; no reference value) are
unlabelled, delta, the graph and the picks come from the labelled rows plus ``max_pool``
unlabelled rows drawn from the strategy's rng (:mod:`albench.strategies.pool_sample`), a
new draw and graph each round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from albench import kernels
from albench.capabilities import IMAGE_FEATURES
from albench.errors import InvalidSpecError
from albench.strategies import pool_sample
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks

if TYPE_CHECKING:
    from scipy import sparse

#: delta stays this far inside the impure radius, so float32 rounding cannot put the
#: nearest differently-labelled point inside the ball
ROUNDING_MARGIN = 1e-6
#: unlabelled rows above which ProbCover works on a uniform sample of them (albench's choice)
MAX_POOL = 50_000


class ProbCover(Strategy):
    """Greedy max coverage over the delta-ball graph of image features."""

    name = "probcover"
    category = "representativeness"
    reference = (
        "Yehuda, Dekel, Hacohen & Weinshall, Active Learning Through a Covering Lens, NeurIPS 2022"
    )
    needs = frozenset({IMAGE_FEATURES})

    def __init__(
        self,
        *,
        delta: float | None = None,
        purity: float = 0.95,
        purity_sample: int = 2000,
        delta_seed: int = 0,
        max_pool: int = MAX_POOL,
    ):
        if delta is not None and not 0 < delta <= 2:
            raise InvalidSpecError(f"probcover delta is a cosine distance in (0, 2], not {delta}")
        if not 0 < purity <= 1:
            raise InvalidSpecError(f"probcover purity must be in (0, 1], not {purity}")
        self.delta = delta
        self.purity = float(purity)
        self.purity_sample = int(purity_sample)
        self.delta_seed = int(delta_seed)
        self.max_pool = pool_sample.check_max_pool(self.name, max_pool)
        self._graph_for: tuple[np.ndarray, float, sparse.csr_matrix] | None = None

    def choose_delta(self, features: np.ndarray, n_classes: int) -> float:
        """Largest delta with ball purity >= ``purity`` on k-means pseudo-labels."""
        rng = np.random.default_rng(self.delta_seed)
        pseudo = kernels.kmeans_labels(features, max(n_classes, 2), rng)
        n_queries = min(self.purity_sample, features.shape[0])
        queries = rng.choice(features.shape[0], n_queries, replace=False)
        radius = np.sort(kernels.impure_radius(features, pseudo, np.sort(queries)))
        allowed_impure = int(np.floor((1.0 - self.purity) * radius.size))
        return float(min(radius[min(allowed_impure, radius.size - 1)] - ROUNDING_MARGIN, 2.0))

    def _graph(self, ctx: StrategyContext) -> tuple[float, sparse.csr_matrix]:
        """Ball graph of the pool, reused while the strategy sees the same feature array."""
        if self._graph_for is None or self._graph_for[0] is not ctx.features:
            features = kernels.unit_rows(ctx.features)
            delta = self.delta or self.choose_delta(features, ctx.n_classes)
            self._graph_for = (ctx.features, delta, kernels.ball_graph(features, delta))
        return self._graph_for[1], self._graph_for[2]

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        sample = pool_sample.capped(ctx, self.max_pool, rng)
        if sample is not None:
            return sample.lift(self.select_all(sample.ctx, budget, rng))
        return self.select_all(ctx, budget, rng)

    def select_all(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        """Greedy coverage over every row of ``ctx``."""
        k = n_picks(budget, ctx.unlabelled.size)
        delta, graph = self._graph(ctx)
        uncovered = np.ones(ctx.n_pool, dtype=bool)
        uncovered[graph[ctx.labelled].indices] = False
        gain = graph @ uncovered.astype(np.int64)
        eligible = np.zeros(ctx.n_pool, dtype=bool)
        eligible[ctx.unlabelled] = True
        picks, scores = [], []
        while len(picks) < k:
            candidate_gain = np.where(eligible, gain, -1)
            best = int(np.argmax(candidate_gain))
            if candidate_gain[best] <= 0:
                break
            ball = graph[best].indices
            newly = ball[uncovered[ball]]
            uncovered[newly] = False
            gain -= np.bincount(graph[newly].indices, minlength=ctx.n_pool)
            eligible[best] = False
            picks.append(best)
            scores.append(int(candidate_gain[best]))
        rest = rng.permutation(np.flatnonzero(eligible))[: k - len(picks)]
        indices = np.concatenate([np.asarray(picks, dtype=np.int64), rest])
        scores_all = np.concatenate([np.asarray(scores, dtype=np.float64), np.zeros(rest.size)])
        info = {"delta": float(delta), "covered_by_greedy": len(picks)}
        return Selection(indices=indices, scores=scores_all, info=info)
