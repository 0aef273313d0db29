"""BALD, PowerBALD and BatchBALD against brute-force references on hand-checkable passes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from albench.errors import InvalidSpecError
from albench.kernels import BatchJoint, mutual_information
from albench.strategies import StrategyContext, get_strategy

ONE_HOT = np.eye(3)
#: (N=6, T=3, C=3) passes whose mutual informations are written out in HAND_MI
HAND = np.array(
    [
        [[1 / 3] * 3] * 3,  # agreeing and uncertain: 0
        ONE_HOT,  # three models, three labels: log 3
        [ONE_HOT[0], ONE_HOT[0], ONE_HOT[1]],  # H(2/3, 1/3)
        [ONE_HOT[0]] * 3,  # agreeing and certain: 0
        [[0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]],  # log 3 - log 2
        [[0.9, 0.1, 0], [0.1, 0.9, 0], [0.5, 0.5, 0]],  # log 2 - (2 H(0.9) + log 2) / 3
    ]
)


def _h(*p: float) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


HAND_MI = [
    0.0,
    math.log(3),
    _h(2 / 3, 1 / 3),
    0.0,
    math.log(1.5),
    _h(0.5, 0.5) * 2 / 3 - _h(0.9, 0.1) * 2 / 3,
]


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def brute_mutual_information(mc: np.ndarray) -> np.ndarray:
    """Row by row: H[mean over passes] - mean over passes of H."""
    return np.array(
        [_entropy(row.mean(axis=0)) - np.mean([_entropy(p) for p in row]) for row in mc]
    )


def brute_joint_entropy(mc: np.ndarray, batch: list[int]) -> float:
    """H[y_batch] by enumerating every label configuration of the batch."""
    n_models, n_classes = mc.shape[1:]
    total = 0.0
    for labels in itertools.product(range(n_classes), repeat=len(batch)):
        per_model = [
            math.prod(mc[i, t, y] for i, y in zip(batch, labels, strict=True))
            for t in range(n_models)
        ]
        p = sum(per_model) / n_models
        total -= p * math.log(p) if p > 0 else 0.0
    return total


def brute_joint_mi(mc: np.ndarray, batch: list[int]) -> float:
    """I[y_batch; w] = H[y_batch] - sum over the batch of E_w H[y_i]."""
    conditional = sum(np.mean([_entropy(p) for p in mc[i]]) for i in batch)
    return brute_joint_entropy(mc, batch) - conditional


def brute_batch_bald(
    mc: np.ndarray, candidates: list[int], k: int
) -> tuple[list[int], list[float]]:
    batch: list[int] = []
    scores = []
    for _ in range(k):
        gains = {i: brute_joint_mi(mc, [*batch, i]) for i in candidates if i not in batch}
        best = max(gains, key=lambda i: (gains[i], -i))
        batch.append(best)
        scores.append(gains[best])
    return batch, scores


def _context(mc: np.ndarray, labelled=(), providers=None, row_providers=None):
    """A pool whose learner answers with ``mc`` (float32, as learners give it)."""
    mc = np.asarray(mc, dtype=np.float32)

    def passes(samples: int) -> np.ndarray:
        assert samples == mc.shape[1]
        return mc

    labelled = np.asarray(labelled, dtype=np.int64)
    return StrategyContext(
        features=np.zeros((mc.shape[0], 2), dtype=np.float32),
        labelled=labelled,
        labelled_labels=np.zeros(labelled.size, dtype=np.int64),
        n_classes=mc.shape[2],
        providers=providers or {"mc_probabilities": passes},
        row_providers=row_providers,
    )


def _random_passes(n: int, t: int, c: int, seed: int, concentration: float = 0.5) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet([concentration] * c, size=(n, t))


# --- BALD ---------------------------------------------------------------------------


def test_mutual_information_of_the_hand_passes():
    np.testing.assert_allclose(mutual_information(HAND), HAND_MI, atol=1e-12)
    np.testing.assert_allclose(brute_mutual_information(HAND), HAND_MI, atol=1e-12)


def test_bald_picks_the_highest_mutual_information_among_the_unlabelled():
    selection = get_strategy("bald(samples=3)").select(_context(HAND, labelled=[2]), 3, None)
    assert selection.indices.tolist() == [1, 4, 5]
    np.testing.assert_allclose(selection.scores, [HAND_MI[1], HAND_MI[4], HAND_MI[5]], rtol=1e-6)


def test_bald_equals_the_brute_force_on_random_passes():
    mc = _random_passes(40, 5, 4, seed=2)
    selection = get_strategy("bald(samples=5)").select(_context(mc), 10, None)
    reference = brute_mutual_information(mc.astype(np.float32).astype(np.float64))
    assert selection.indices.tolist() == np.argsort(-reference, kind="stable")[:10].tolist()
    np.testing.assert_allclose(selection.scores, reference[selection.indices], rtol=1e-9)


@pytest.mark.parametrize("name", ["bald(samples=8)", "power-bald(samples=8)"])
def test_blocked_scores_never_ask_for_the_whole_pool(name):
    mc = _random_passes(600, 8, 1024, seed=4, concentration=0.05).astype(np.float32)
    asked: list[int] = []

    def rows(indices: np.ndarray, samples: int) -> np.ndarray:
        asked.append(len(indices))
        return mc[indices]

    def whole(samples: int) -> np.ndarray:
        raise AssertionError("the whole pool's passes were computed")

    blocked = _context(
        mc, [0, 9], providers={"mc_probabilities": whole}, row_providers={"mc_probabilities": rows}
    )
    picks = get_strategy(name).select(blocked, 12, np.random.default_rng(5))
    reference = get_strategy(name).select(
        _context(mc, labelled=[0, 9]), 12, np.random.default_rng(5)
    )
    np.testing.assert_array_equal(picks.indices, reference.indices)
    assert asked == [256, 256, 86]  # 8 x 1024 values a row: 256 rows a block


# --- PowerBALD ------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_power_bald_single_pick_follows_score_to_the_beta(beta):
    strategy = get_strategy(f"power-bald(samples=3, beta={beta})")
    ctx = _context(HAND)
    ctx.get("mc_probabilities", samples=3)  # computed once, then sliced
    rng = np.random.default_rng(11)
    draws = 20_000
    counts = np.bincount(
        [strategy.select(ctx, 1, rng).indices[0] for _ in range(draws)], minlength=6
    )
    law = np.asarray(HAND_MI) ** beta
    law /= law.sum()
    assert counts[[0, 3]].sum() == 0  # zero mutual information: never while others remain
    positive = law > 0
    test = stats.chisquare(counts[positive], draws * law[positive])
    assert test.pvalue > 0.001


def test_power_bald_takes_zero_scores_last_and_is_top_k_when_cold():
    ctx = _context(HAND)
    everything = get_strategy("power-bald(samples=3)").select(ctx, 6, np.random.default_rng(0))
    assert sorted(everything.indices[:4].tolist()) == [1, 2, 4, 5]
    cold = get_strategy("power-bald(samples=3, beta=1000)").select(ctx, 3, np.random.default_rng(0))
    assert cold.indices.tolist() == [1, 2, 4]


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(InvalidSpecError, match="beta must be > 0"):
        get_strategy("power-bald(beta=0)")
    with pytest.raises(InvalidSpecError, match="samples"):
        get_strategy("bald(samples=0)")
    with pytest.raises(InvalidSpecError, match="joint_samples"):
        get_strategy("batch-bald(joint_samples=0)")


# --- BatchBALD ------------------------------------------------------------------------

#: (N=3, T=4, C=2): rows 0 and 1 are the same question; row 2 asks another one
DUPLICATES = np.array(
    [
        [[1, 0], [1, 0], [0, 1], [0, 1]],
        [[1, 0], [1, 0], [0, 1], [0, 1]],
        [[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]],
    ],
    dtype=np.float64,
)


def test_batch_bald_skips_a_duplicate_that_bald_takes():
    assert get_strategy("bald(samples=4)").select(
        _context(DUPLICATES), 2, None
    ).indices.tolist() == [0, 1]
    selection = get_strategy("batch-bald(samples=4)").select(
        _context(DUPLICATES), 2, np.random.default_rng(0)
    )
    assert selection.indices.tolist() == [0, 2]
    # H[y0, y2] = log 4 (four equally likely pairs); E H = 0 + H(0.9, 0.1)
    np.testing.assert_allclose(selection.scores, [math.log(2), math.log(4) - _h(0.9, 0.1)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_bald_equals_the_brute_force_greedy_with_exact_joints(seed):
    mc = _random_passes(9, 4, 3, seed=seed).astype(np.float32)
    labelled = [4]
    selection = get_strategy("batch-bald(samples=4)").select(
        _context(mc, labelled=labelled), 3, np.random.default_rng(0)
    )
    candidates = [i for i in range(9) if i not in labelled]
    picks, scores = brute_batch_bald(mc.astype(np.float64), candidates, 3)
    assert selection.indices.tolist() == picks
    np.testing.assert_allclose(selection.scores, scores, rtol=1e-9)
    assert selection.info == {"exact_picks": 3}


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_batch_bald_first_pick_is_balds(seed):
    mc = _random_passes(30, 6, 5, seed=seed)
    bald = get_strategy("bald(samples=6)").select(_context(mc), 1, None)
    batch = get_strategy("batch-bald(samples=6)").select(_context(mc), 1, np.random.default_rng(0))
    assert batch.indices.tolist() == bald.indices.tolist()
    np.testing.assert_allclose(batch.scores, bald.scores, rtol=1e-9)


def test_sampled_joint_entropy_is_close_to_the_enumeration():
    mc = _random_passes(14, 5, 2, seed=7)
    exact = BatchJoint(5, 2, 2**12, np.random.default_rng(0))
    sampled = BatchJoint(5, 2, 2000, np.random.default_rng(0))  # 2^11 > 2000: sampled
    for member in mc[:12]:
        exact.add(member)
        sampled.add(member)
    assert exact.exact and not sampled.exact and sampled.probs.shape == (2000, 5)
    truth = [brute_joint_entropy(mc, [*range(12), i]) for i in (12, 13)]
    np.testing.assert_allclose(exact.entropies(mc[12:]), truth, rtol=1e-9)
    np.testing.assert_allclose(sampled.entropies(mc[12:]), truth, rtol=0.02)


def test_batch_bald_switches_to_sampling_and_stays_reproducible():
    mc = _random_passes(20, 4, 3, seed=8)
    strategy = get_strategy("batch-bald(samples=4, joint_samples=40)")
    first = strategy.select(_context(mc), 6, np.random.default_rng(9))
    again = strategy.select(_context(mc), 6, np.random.default_rng(9))
    assert first.info == {"exact_picks": 4}  # 3^3 = 27 <= 40 < 3^4
    np.testing.assert_array_equal(first.indices, again.indices)
    assert len(set(first.indices.tolist())) == 6


def test_context_caches_a_capability_once_per_options():
    calls: list[int] = []

    def passes(samples: int) -> np.ndarray:
        calls.append(samples)
        return HAND[:, :samples]

    ctx = _context(HAND, providers={"mc_probabilities": passes})
    for samples in (2, 2, 3, 2):
        assert ctx.get("mc_probabilities", samples=samples).shape == (6, samples, 3)
    assert calls == [2, 3]
    rows = np.array([4, 1])
    (_, block), *_ = ctx.blocks("mc_probabilities", rows, 9, samples=3)
    np.testing.assert_array_equal(block, HAND[rows, :3])
    assert calls == [2, 3]  # sliced from the cached whole-pool passes
