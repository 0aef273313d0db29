"""Initial labelled sets (round 0), chosen before any model exists.

``random``: a uniform sample without replacement. ``zero-shot-kmeans``: the cold-start
initialisation of Gupte et al. (TMLR 2024, sec. 4.1) and of TypiClust's cold-start study
(Hacohen et al., ICML 2022): k-means on the pool's frozen CLIP features with K = initial size
clusters, then the pool point nearest each centre. ``typiclust``, ``probcover`` and
``max-herding``: those strategies' own selection from an empty labelled set, the cold-start
use their papers propose (TypiClust's most typical point of each of K clusters; ProbCover's
greedy delta-ball coverage, its delta from k-means pseudo-labels with one cluster per class;
MaxHerding's greedy Gaussian-kernel coverage). All
see features only, never labels; each policy is called with the number of classes, which
only ProbCover's delta uses, and with where the run computes: a strategy's cold start selects
there as its rounds do (MaxHerding's coverage on a GPU run's device, from the pool the runner
copied there; the scikit-learn and scipy ones on the host, as in their rounds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from albench.protocol import STRATEGY_INITIALS

#: policy name -> (features (N, d), size, rng, number of classes, *, device,
#: device_features) -> pool indices; ``device_features``: the features on ``device`` (None on
#: the CPU)
InitialPolicy = Callable[..., np.ndarray]


def random_initial(
    features: np.ndarray,
    size: int,
    rng: np.random.Generator,
    n_classes: int = 0,
    **where: Any,
) -> np.ndarray:
    """``size`` distinct pool indices drawn uniformly."""
    return np.sort(rng.choice(features.shape[0], size=size, replace=False)).astype(np.int64)


def kmeans_initial(
    features: np.ndarray,
    size: int,
    rng: np.random.Generator,
    n_classes: int = 0,
    **where: Any,
) -> np.ndarray:
    """The pool point nearest each of ``size`` k-means centres (distinct points).

    Centres are visited in order; a centre whose nearest point is already taken gets its
    nearest free point, so exactly ``size`` distinct indices come back.
    """
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    x = np.asarray(features, dtype=np.float32)
    kmeans = KMeans(n_clusters=size, n_init=3, random_state=int(rng.integers(2**31 - 1)))
    kmeans.fit(x)
    distances = (
        (x**2).sum(1)[None, :]
        - 2.0 * kmeans.cluster_centers_ @ x.T
        + (kmeans.cluster_centers_**2).sum(1)[:, None]
    )
    taken = np.zeros(x.shape[0], dtype=bool)
    picks = []
    for row in distances:
        row = np.where(taken, np.inf, row)
        pick = int(np.argmin(row))
        taken[pick] = True
        picks.append(pick)
    return np.asarray(picks, dtype=np.int64)


class StrategyInitial:
    """A label-free strategy's selection from an empty labelled set, as a round-0 policy."""

    def __init__(self, strategy: str):
        self.strategy = strategy

    def __call__(
        self,
        features: np.ndarray,
        size: int,
        rng: np.random.Generator,
        n_classes: int = 0,
        *,
        device: str = "cpu",
        device_features: Any = None,
    ) -> np.ndarray:
        from albench.strategies import StrategyContext, get_strategy

        empty = np.zeros(0, dtype=np.int64)
        ctx = StrategyContext(
            features=features,
            labelled=empty,
            labelled_labels=empty,
            n_classes=n_classes,
            device=device,
            device_features=device_features,
        )
        picked = get_strategy(self.strategy).select(ctx, size, rng).indices
        return np.asarray(picked, dtype=np.int64)


INITIAL_POLICIES: dict[str, InitialPolicy] = {
    "random": random_initial,
    "zero-shot-kmeans": kmeans_initial,
    **{name: StrategyInitial(name) for name in STRATEGY_INITIALS},
}
