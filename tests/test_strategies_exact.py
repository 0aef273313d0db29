"""Each built-in strategy on small inputs whose right answer is known independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from albench import kernels
from albench.capabilities import GradEmbedding
from albench.errors import InvalidSpecError
from albench.strategies import StrategyContext, get_strategy
from albench.strategies.pcb import balanced_order
from albench.strategies.ranking import top_k


def context(features, labelled=(), labelled_labels=None, n_classes=3, **providers):
    labelled = np.asarray(labelled, dtype=np.int64)
    given = np.zeros(labelled.size) if labelled_labels is None else labelled_labels
    return StrategyContext(
        features=np.asarray(features, dtype=np.float32),
        labelled=labelled,
        labelled_labels=np.asarray(given, dtype=np.int64),
        n_classes=n_classes,
        providers={name: (lambda value=value: value) for name, value in providers.items()},
    )


def dirichlet_probabilities(n: int, c: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(c) * 0.7, size=n)


# --- ranking ------------------------------------------------------------------------------


def test_top_k_breaks_ties_by_lower_position_and_ranks_nan_last():
    np.testing.assert_array_equal(top_k(np.array([1.0, 3.0, 3.0, 2.0]), 3), [1, 2, 3])
    np.testing.assert_array_equal(top_k(np.array([np.nan, 0.5, 0.5]), 3), [1, 2, 0])


# --- uncertainty ----------------------------------------------------------------------------

DIRECT_SCORES = {
    "entropy": lambda p: -(p * np.log(p)).sum(axis=1),
    "margin": lambda p: -(np.sort(p, axis=1)[:, -1] - np.sort(p, axis=1)[:, -2]),
    "least-confidence": lambda p: -p.max(axis=1),
}


@pytest.mark.parametrize("name", sorted(DIRECT_SCORES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncertainty_equals_direct_top_b(name, seed):
    p = dirichlet_probabilities(40, 5, seed)
    labelled = np.array([3, 7, 11, 20])
    ctx = context(np.zeros((40, 2)), labelled, probabilities=p)
    unlabelled = np.setdiff1d(np.arange(40), labelled)
    expected = unlabelled[np.argsort(-DIRECT_SCORES[name](p[unlabelled]))[:9]]
    selected = get_strategy(name).select(ctx, 9, np.random.default_rng(0)).indices
    np.testing.assert_array_equal(selected, expected)


def test_margin_ties_go_to_the_lower_index():
    p = np.array([[0.5, 0.5, 0.0], [0.9, 0.1, 0.0], [0.4, 0.4, 0.2], [0.45, 0.45, 0.1]])
    ctx = context(np.zeros((4, 2)), probabilities=p)
    selected = get_strategy("margin").select(ctx, 3, np.random.default_rng(0)).indices
    np.testing.assert_array_equal(selected, [0, 2, 3])


# --- core-set -------------------------------------------------------------------------------


def brute_force_k_center(x: np.ndarray, labelled: np.ndarray, budget: int) -> list[int]:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    distance = 1.0 - x @ x.T
    centres = list(labelled)
    picks: list[int] = []
    for _ in range(budget):
        candidates = [i for i in range(len(x)) if i not in centres]
        nearest = [min(distance[i, c] for c in centres) for i in candidates]
        best = candidates[int(np.argmax(nearest))]
        centres.append(best)
        picks.append(best)
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coreset_equals_brute_force_greedy_k_center(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 5))
    labelled = rng.choice(30, 4, replace=False)
    ctx = context(x, labelled)
    selected = get_strategy("coreset").select(ctx, 8, np.random.default_rng(0)).indices
    np.testing.assert_array_equal(selected, brute_force_k_center(x, labelled, 8))


def test_coreset_without_labels_continues_from_the_first_pick():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(25, 4))
    selected = get_strategy("coreset").select(context(x), 6, np.random.default_rng(0)).indices
    np.testing.assert_array_equal(selected[1:], brute_force_k_center(x, selected[:1], 5))


# --- BADGE ----------------------------------------------------------------------------------


def gradient_embedding(p: np.ndarray, x: np.ndarray) -> GradEmbedding:
    """Factors at the hypothetical label argmax p, as a learner provides them."""
    return GradEmbedding(scale=p - np.eye(p.shape[1])[p.argmax(axis=1)], x=x)


def materialised(embedding: GradEmbedding) -> np.ndarray:
    return np.einsum("nc,nh->nch", embedding.scale, embedding.x).reshape(len(embedding.x), -1)


def test_badge_factorised_distances_equal_materialised_embeddings():
    rng = np.random.default_rng(0)
    embedding = gradient_embedding(dirichlet_probabilities(12, 4, 0), rng.normal(size=(12, 6)))
    g = materialised(embedding)
    for centre in (0, 5, 11):
        direct = ((g - g[centre]) ** 2).sum(axis=1)
        factorised = kernels.gradient_embedding_sq_dists(embedding.scale, embedding.x, centre)
        np.testing.assert_allclose(np.asarray(factorised), direct, rtol=1e-4, atol=1e-5)


def test_badge_draws_second_pick_with_materialised_d2_law():
    rng = np.random.default_rng(1)
    n = 8
    spread = np.array([0.3, 1, 2, 0.5, 3, 1, 0.2, 1.5])[:, None]  # uneven, so D vs D^2 shows
    embedding = gradient_embedding(
        dirichlet_probabilities(n, 3, 4), rng.normal(size=(n, 4)) * spread
    )
    labelled = np.array([2, 6])
    ctx = context(np.zeros((n, 2)), labelled, grad_embedding=embedding)
    g = materialised(embedding)
    unlabelled = np.setdiff1d(np.arange(n), labelled)
    first = unlabelled[np.argmax(np.linalg.norm(g[unlabelled], axis=1))]
    d2 = ((g[unlabelled] - g[first]) ** 2).sum(axis=1)
    trials = 3000
    counts = np.zeros(n)
    for seed in range(trials):
        picks = get_strategy("badge").select(ctx, 2, np.random.default_rng(seed)).indices
        assert picks[0] == first
        counts[picks[1]] += 1
    expected = trials * d2 / d2.sum()
    observed = counts[unlabelled]
    assert observed[unlabelled == first] == 0
    keep = expected > 0
    assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-3, (observed, expected)
    d = np.sqrt(d2)  # the same test rejects a D (not D^2) law on these inputs
    assert stats.chisquare(observed[keep], trials * d[keep] / d.sum()).pvalue < 1e-6


# --- PCB ------------------------------------------------------------------------------------


def test_balanced_order_fills_least_labelled_class_first():
    pseudo = np.array([0, 0, 1, 2, 2, 1, 0])
    counts = np.array([2, 1, 0])
    # class 2 (no labels) -> pos 3; classes 1 and 2 tie at 1 -> class 1, pos 2; class 2 at 1
    # -> pos 4 (its last); classes 0 and 1 tie at 2 -> class 0, pos 0; then class 1, pos 5
    np.testing.assert_array_equal(balanced_order(pseudo, counts, 5), [3, 2, 4, 0, 5])


def test_pcb_takes_candidates_in_base_order_per_least_labelled_class():
    # entropy order of the unlabelled samples: 4, 1, 5, 3, 2 (pseudo-labels 0, 0, 1, 0, 1)
    p = np.array(
        [
            [0.90, 0.05, 0.05],  # 0: labelled, class 0
            [0.50, 0.30, 0.20],  # 1: pseudo 0, second most uncertain
            [0.15, 0.80, 0.05],  # 2: pseudo 1, least uncertain
            [0.70, 0.20, 0.10],  # 3: pseudo 0
            [0.40, 0.30, 0.30],  # 4: pseudo 0, most uncertain
            [0.25, 0.55, 0.20],  # 5: pseudo 1
        ]
    )
    ctx = context(np.zeros((6, 2)), [0], [0], n_classes=3, probabilities=p)
    assert get_strategy("entropy").select(ctx, 5, None).indices.tolist() == [4, 1, 5, 3, 2]
    picks = get_strategy("pcb(entropy, candidates=5)").select(ctx, 3, np.random.default_rng(0))
    # counts [1, 0, 0]: class 1 first (sample 5), class 2 has no candidates, then class 0
    # and class 1 tie at 1 -> class 0 (sample 4), then class 1 (sample 2) at 1 vs 2
    np.testing.assert_array_equal(picks.indices, [5, 4, 2])


def test_pcb_with_all_candidates_balances_over_the_whole_ranking():
    p = np.array([[0.9, 0.1], [0.55, 0.45], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    ctx = context(np.zeros((5, 2)), [0], [0], n_classes=2, probabilities=p)
    # entropy order 1, 2, 3, 4 (pseudo 0, 0, 1, 0); class 1 has no labels -> 3 first
    picks = get_strategy("pcb(entropy, candidates='all')").select(ctx, 2, None)
    np.testing.assert_array_equal(picks.indices, [3, 1])
    budget_only = get_strategy("pcb(entropy, candidates=1)").select(ctx, 2, None)
    np.testing.assert_array_equal(budget_only.indices, [1, 2])


def test_pcb_draws_candidates_from_a_tenth_of_the_pool_by_default():
    # 40 samples, sample 0 labelled; the later a sample, the more uncertain (entropy ranks
    # 39, 38, ...), and pseudo-labels alternate 0/1 by position
    n = 40
    margin = np.linspace(0.45, 0.0, n)  # sample 39 is the most uncertain
    first = np.where(np.arange(n) % 2 == 0, 0.5 + margin, 0.5 - margin)
    p = np.stack([first, 1 - first], axis=1)
    ctx = context(np.zeros((n, 2)), [0], [0], n_classes=2, probabilities=p)
    ranking = get_strategy("entropy").select(ctx, n - 1, None).indices
    default = get_strategy("pcb(entropy)").select(ctx, 2, None)
    assert default.info["candidates"] == 4  # int(40 x 0.1), as PCB's reference
    assert set(default.indices) <= set(ranking[:4])

    def proposed(spec: str, budget: int) -> int:
        return get_strategy(spec).select(ctx, budget, None).info["candidates"]

    assert proposed("pcb(entropy, pool_fraction=0.5)", 2) == 20
    assert proposed("pcb(entropy, candidates=4)", 3) == 12
    # a tenth of a small pool is fewer than the budget: the budget's worth is proposed
    assert proposed("pcb(entropy)", 6) == 6


@pytest.mark.parametrize(
    "spec, message",
    [
        ("pcb(entropy, candidates=4, pool_fraction=0.1)", "not both"),
        ("pcb(entropy, pool_fraction=0)", "pool_fraction"),
        ("pcb(entropy, pool_fraction=1.5)", "pool_fraction"),
    ],
)
def test_pcb_refuses_unclear_candidate_counts(spec, message):
    with pytest.raises(InvalidSpecError, match=message):
        get_strategy(spec)


def test_pcb_needs_probabilities_and_its_base_needs():
    assert get_strategy("pcb(badge)").required_capabilities() == {
        "probabilities",
        "grad_embedding",
    }


# --- TypiClust ------------------------------------------------------------------------------


def blobs() -> tuple[np.ndarray, dict[str, range], dict[str, int]]:
    """Three far-apart blobs in 2-D, each a centre with arms of points 0.1 apart: a has 9
    points (arms of 2 on each axis), b 7 and c 4 (at or below TypiClust's minimum cluster
    size, 5). Each centre is its blob's most typical point: its nearest neighbours (up to
    half the blob) all lie 0.1 away, every other point has one at least 0.14 away."""
    arms = {
        "a": [(0.1, 0), (-0.1, 0), (0, 0.1), (0, -0.1), (0.2, 0), (-0.2, 0), (0, 0.2), (0, -0.2)],
        "b": [(0.1, 0), (-0.1, 0), (0, 0.1), (0, -0.1), (0.2, 0), (-0.2, 0)],
        "c": [(0.1, 0), (-0.1, 0), (0, 0.1)],
    }
    points, members, centres = [], {}, {}
    for name, centre in (("a", (0, 0)), ("b", (5, 0)), ("c", (0, 5))):
        start = len(points)
        points += [np.add(centre, arm) for arm in arms[name]]
        centres[name] = len(points)
        points.append(np.array(centre, dtype=float))
        members[name] = range(start, len(points))
    return np.array(points), members, centres


def test_typiclust_picks_centres_largest_first_and_cycles_past_small_clusters():
    x, members, centre = blobs()
    selected = get_strategy("typiclust").select(context(x), 3, np.random.default_rng(0))
    # 3 clusters; c (4 points) is dropped, so the third pick cycles back to a, not to c
    assert selected.indices[:2].tolist() == [centre["a"], centre["b"]]
    assert selected.indices[2] in members["a"]


def test_typiclust_skips_covered_clusters():
    x, members, centre = blobs()
    ctx = context(x, [centre["a"]], [0])
    selected = get_strategy("typiclust").select(ctx, 2, np.random.default_rng(0))
    assert selected.indices[0] == centre["b"] and selected.indices[1] in members["a"]


def test_typiclust_keeps_all_clusters_when_every_cluster_is_small():
    x = np.array([[0.0, 0.0], [0.0, 0.1], [9.0, 9.0], [9.0, 9.1]])
    selected = get_strategy("typiclust").select(context(x), 2, np.random.default_rng(0))
    assert sorted(i // 2 for i in selected.indices) == [0, 1]


def test_typiclust_typicality_counts_unlabelled_members_only():
    # blob A: three labelled points near (0.6, 0), two unlabelled beside them, and a plus of
    # five unlabelled points around (2, 0); B and C: far blobs of 6 with 4 labelled each
    near = [[0.6, 0.0], [0.6, 0.01], [0.6, -0.01]]
    beside = [[0.58, 0.0], [0.62, 0.0]]
    plus = [[2.0, 0.0], [2.1, 0.0], [1.9, 0.0], [2.0, 0.1], [2.0, -0.1]]
    far = [[50.0 + i, 0.0] for i in range(6)] + [[0.0, 50.0 + i] for i in range(6)]
    x = np.array(near + beside + plus + far)
    labelled = [0, 1, 2, 10, 11, 12, 13, 16, 17, 18, 19]
    ctx = context(x, labelled, np.zeros(11, dtype=int))
    # A has the fewest labels (3 < 4). Among its 7 unlabelled members (3 neighbours each)
    # the plus's centre is most typical (mean distance 0.1); were the labelled points
    # counted, (0.58, 0) and (0.62, 0) would be (mean distance about 0.02)
    assert np.argmax(kernels.member_typicality(x[:10], 3)[3:5]) in (0, 1)
    assert kernels.member_typicality(x[:10], 3)[3] > kernels.member_typicality(x[:10], 3)[5]
    selected = get_strategy("typiclust(max_clusters=3)").select(ctx, 1, np.random.default_rng(0))
    assert selected.indices.tolist() == [5]


# --- ProbCover ------------------------------------------------------------------------------


def arcs() -> np.ndarray:
    """Points on the unit circle: a (5 points, centre at index 3), b (3), c (2)."""
    angles = [-0.1, -0.05, 0.05, 0.0, 0.1, 2.0, 2.1, 1.9, 4.05, 4.0]
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_probcover_greedy_coverage_with_fixed_delta():
    # delta 0.01 ~ 0.14 rad: only each arc's centre covers its whole arc; c ties -> index 8
    selected = get_strategy("probcover(delta=0.01)").select(
        context(arcs()), 3, np.random.default_rng(0)
    )
    np.testing.assert_array_equal(selected.indices, [3, 5, 8])
    np.testing.assert_array_equal(selected.scores, [5, 3, 2])


def test_probcover_starts_from_labelled_coverage_then_samples_uniformly():
    ctx = context(arcs(), [3], [0])
    selected = get_strategy("probcover(delta=0.01)").select(ctx, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(selected.indices[:2], [5, 8])
    assert selected.info["covered_by_greedy"] == 2
    assert selected.indices[2] not in (3, 5, 8)


def test_probcover_default_delta_keeps_balls_inside_arcs():
    strategy = get_strategy("probcover")
    selected = strategy.select(context(arcs(), n_classes=3), 3, np.random.default_rng(0))
    # every point of an arc covers the whole arc and nothing else: lowest index per arc
    np.testing.assert_array_equal(selected.indices, [0, 5, 8])
    nearest_other_arc = 1.0 - np.cos(1.9 - 0.1)
    assert selected.info["delta"] == pytest.approx(nearest_other_arc, abs=1e-5)
