"""The benchmark references select what albench's kernels select on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

from albench.kernels import greedy_k_center, kmeanspp_select
from albench.strategies import get_strategy
from albench.strategies.base import StrategyContext
from benchmarks.references import (
    badge_factorised_rv,
    badge_materialised,
    k_center_full_matrix,
    k_center_pairwise,
)
from benchmarks.references.strategies import (
    batch_bald_redrawn,
    max_herding_kernel_matrix,
    typiclust_plain,
)


def _features(seed: int, n: int = 300, d: int = 16) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _factors(seed: int, n: int = 200, c: int = 5, h: int = 8):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(c, 0.5), size=n)
    probs[np.arange(n), probs.argmax(axis=1)] -= 1.0
    return probs.astype(np.float32), _features(seed + 50, n, h)


@pytest.mark.parametrize("reference", [k_center_full_matrix, k_center_pairwise])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k_center_references_pick_what_the_kernel_picks(reference, seed):
    x = _features(seed)
    centres = np.random.default_rng(seed).choice(300, 30, replace=False)
    expected = reference(x, centres, 25)
    for method in ("lazy", "plain"):
        assert greedy_k_center(x, centres, 25, method=method).tolist() == expected.tolist()


@pytest.mark.parametrize("reference", [badge_materialised, badge_factorised_rv])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_badge_references_pick_what_the_kernel_picks_from_the_same_uniforms(reference, seed):
    scale, x = _factors(seed)
    expected = reference(scale, x, 20, np.random.default_rng(seed))
    got = kmeanspp_select(scale, x, 20, np.random.default_rng(seed), draws="inverse-cdf")
    assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_herding_kernel_matrix_reference_picks_what_the_strategy_picks(seed):
    x = _features(seed, n=120, d=6)
    labelled = np.random.default_rng(seed).choice(120, 10, replace=False)
    ctx = StrategyContext(
        features=x, labelled=labelled, labelled_labels=np.zeros(10, dtype=np.int64), n_classes=2
    )
    picked = get_strategy("max-herding").select(ctx, 12, np.random.default_rng(0)).indices
    assert picked.tolist() == max_herding_kernel_matrix(x, labelled, 12).tolist()


def test_typiclust_reference_picks_one_point_per_cluster_of_well_separated_blobs():
    centres = np.eye(4, 8)
    x = np.concatenate([centre + 0.01 * _features(i, 30, 8) for i, centre in enumerate(centres)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    picks = typiclust_plain(x.astype(np.float32), np.zeros(0, dtype=np.int64), 4)
    assert sorted(picks // 30) == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_bald_reference_picks_what_the_strategy_picks_in_the_exact_range(seed):
    rng = np.random.default_rng(seed)
    mc = rng.dirichlet(np.full(3, 0.4), size=(30, 4)).astype(np.float32)
    labelled = np.arange(5)
    ctx = StrategyContext(
        features=_features(seed, 30, 4),
        labelled=labelled,
        labelled_labels=np.zeros(5, dtype=np.int64),
        n_classes=3,
        providers={"mc_probabilities": lambda samples: mc},
    )
    strategy = get_strategy("batch-bald(samples=4, joint_samples=1000)")
    picked = strategy.select(ctx, 4, np.random.default_rng(0)).indices
    assert picked.tolist() == batch_bald_redrawn(mc, labelled, 4, 1000).tolist()
