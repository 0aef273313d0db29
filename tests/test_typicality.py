"""TypiClust's typicality kept across removals equals it computed again from scratch."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from albench import kernels
from albench.strategies import StrategyContext, get_strategy


def brute_typicality(x: np.ndarray, neighbours: int) -> np.ndarray:
    """Inverse mean distance to the ``neighbours`` nearest other rows, from scipy's cdist."""
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    return 1.0 / (np.sort(d, axis=1)[:, :neighbours].mean(axis=1) + 1e-12)


def test_member_typicality_is_the_inverse_mean_distance_to_the_nearest_rows():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    # row 0: nearest 1 and 2 -> mean 1.5; row 3: nearest 2 (sqrt 13) and 1 (sqrt 20)
    typicality = kernels.member_typicality(x, 2)
    assert typicality[0] == 1.0 / (1.5 + 1e-12)
    np.testing.assert_allclose(typicality[3], 1.0 / ((13**0.5 + 20**0.5) / 2))
    rows = np.random.default_rng(0).standard_normal((300, 7))
    np.testing.assert_allclose(kernels.member_typicality(rows, 20), brute_typicality(rows, 20))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 70),
    neighbours=st.integers(1, 6),
    grid=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_typicality_kept_across_removals_equals_it_computed_again(n, neighbours, grid, seed):
    rng = np.random.default_rng(seed)
    # grid points repeat and tie in distance, where a kept neighbour list is most fragile
    x = rng.integers(0, 4, (n, 2)).astype(float) if grid else rng.standard_normal((n, 3))
    kept = kernels.ShrinkingTypicality(x, neighbours)
    open_rows = np.arange(n)
    for row in rng.permutation(n)[: n - 1]:
        kept.remove(int(row))
        open_rows = open_rows[open_rows != row]
        k = min(neighbours, open_rows.size // 2)
        expected = brute_typicality(x[open_rows], k) if k else np.ones(open_rows.size)
        np.testing.assert_allclose(kept.typicality[open_rows], expected, rtol=1e-9)
        assert np.all(np.isneginf(np.delete(kept.typicality, open_rows)))


def test_typiclust_takes_the_most_typical_open_member_at_every_pick():
    # one cluster of 120 rows, 60 picks: each must be the argmax of typicality computed
    # again over the members still open, as the reference computes it at every pick
    x = np.random.default_rng(3).standard_normal((120, 5)).astype(np.float32)
    ctx = StrategyContext(
        features=x,
        labelled=np.zeros(0, dtype=np.int64),
        labelled_labels=np.zeros(0, int),
        n_classes=2,
        providers={},
    )
    picks = get_strategy("typiclust(max_clusters=1)").select(ctx, 60, np.random.default_rng(0))
    open_rows = np.arange(120)
    for pick in picks.indices:
        typicality = brute_typicality(x[open_rows].astype(np.float64), min(20, open_rows.size // 2))
        assert pick == open_rows[np.argmax(typicality)]
        open_rows = open_rows[open_rows != pick]
