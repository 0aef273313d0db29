"""CB+SQ and Uncertainty Herding against brute-force numpy references on small inputs.

Each reference follows its paper's reference code step by step with whole matrices and
plain loops (the N x N kernel, per-bin ECE loops, ratio dictionaries), independently of the
blocked, lazy and vectorised code under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from runner_fakes import make_inputs, one_thread  # noqa: F401
from scipy.spatial.distance import cdist

from albench.errors import InvalidSpecError
from albench.protocol import Protocol
from albench.runner import run
from albench.specs import RunSpec
from albench.strategies import StrategyContext, get_strategy
from albench.strategies.cb_sq import deal_slots
from albench.strategies.uncertainty_herding import calibrated_temperature


def context(features, labelled=(), labelled_labels=(), n_classes=3, **providers):
    labelled = np.asarray(labelled, dtype=np.int64)
    return StrategyContext(
        features=np.asarray(features, dtype=np.float32),
        labelled=labelled,
        labelled_labels=np.asarray(labelled_labels, dtype=np.int64),
        n_classes=n_classes,
        providers={name: (lambda value=value: value) for name, value in providers.items()},
    )


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def on_circle(angles):
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


# --- Uncertainty Herding --------------------------------------------------------------------


def reference_ece(probabilities, labels, n_bins):
    """The reference's ``ECELoss``: bins (lower, upper], |confidence - accuracy| x share."""
    confidence, predicted = probabilities.max(axis=1), probabilities.argmax(axis=1)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lower, upper in itertools.pairwise(edges):
        inside = (confidence > lower) & (confidence <= upper)
        if inside.any():
            gap = confidence[inside].mean() - (predicted[inside] == labels[inside]).mean()
            ece += abs(gap) * inside.mean()
    return ece


def softmax_of_log(p, t):
    z = np.log(np.clip(p, 1e-300, None)) / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def reference_temperature(probabilities, labels, n_classes):
    best, best_ece = 1.0, np.inf
    for t in np.arange(1.0, 20, 0.1):
        ece = reference_ece(softmax_of_log(probabilities, t), labels, n_classes)
        if ece < best_ece:
            best, best_ece = t, ece
    return best


def brute_force_uherding(x, p, labelled, labels, budget, temperature, bandwidth):
    """The reference's ``UHerding.select_samples`` on the full N x N kernel matrix."""
    x = unit(x)
    n_classes = p.shape[1]
    if temperature == "calibrated":
        temperature = reference_temperature(p[labelled], np.asarray(labels), n_classes)
    if bandwidth == "adaptive":
        d = cdist(x[labelled], x[labelled]) if len(labelled) else np.zeros((0, 0))
        positive = d[np.tril_indices(len(labelled), -1)]
        positive = positive[positive > 1e-6]
        bandwidth = positive.min() if positive.size else 1.0
    k = np.exp(-((cdist(x, x) / bandwidth) ** 2))
    q = np.sort(softmax_of_log(p, temperature), axis=1)
    u = 1.0 - (q[:, -1] - q[:, -2]) if len(labelled) else np.ones(len(x))
    u[list(labelled)] = 0.0
    best = k[labelled].max(axis=0) if len(labelled) else np.zeros(len(x))
    chosen, picks = list(labelled), []
    for _ in range(budget):
        gain = (u[None, :] * np.maximum(k - best[None, :], 0.0)).mean(axis=1)
        gain[chosen] = -np.inf
        pick = int(np.argmax(gain))
        picks.append(pick)
        chosen.append(pick)
        best = np.maximum(best, k[pick])
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "options",
    [
        {"temperature": "calibrated", "bandwidth": "adaptive"},
        {"temperature": 2.5, "bandwidth": 0.7},
        {"temperature": 1.0, "bandwidth": "adaptive"},
    ],
)
def test_uncertainty_herding_equals_the_full_matrix_reference(seed, options):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(36, 5))
    p = rng.dirichlet(np.ones(4) * 0.4, size=36)
    labelled, labels = [2, 9, 20, 31], [0, 1, 1, 3]
    ctx = context(x, labelled, labels, n_classes=4, probabilities=p)
    spec = "uncertainty-herding(" + ", ".join(f"{k}={v!r}" for k, v in options.items()) + ")"
    picked = get_strategy(spec).select(ctx, 7, np.random.default_rng(0))
    expected = brute_force_uherding(
        x, p, labelled, labels, 7, options["temperature"], options["bandwidth"]
    )
    assert list(picked.indices) == expected


def test_uncertainty_pulls_the_first_pick_to_the_uncertain_arc():
    # arc A (angles near 0) is larger, so plain coverage starts there; the learner is sure
    # of arc A and unsure of arc B (near 2), so uncertainty coverage starts in arc B
    angles = np.array([-0.1, -0.05, 0.0, 0.05, 0.1, 1.95, 2.0, 2.05, 4.0])
    x = on_circle(angles)
    sure, unsure, labelled_row = [0.98, 0.01, 0.01], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8]
    p = np.array([sure] * 5 + [unsure] * 3 + [labelled_row])
    ctx = context(x, [8], [2], probabilities=p)
    options = "temperature=1.0, bandwidth=0.5"
    herding = get_strategy("max-herding(bandwidth=0.5)").select(ctx, 1, np.random.default_rng(0))
    uherding = get_strategy(f"uncertainty-herding({options})").select(
        ctx, 2, np.random.default_rng(0)
    )
    assert list(herding.indices) == [2]  # the centre of arc A
    assert list(uherding.indices) == [6, 2]  # the centre of arc B, then of arc A
    assert list(uherding.indices) == brute_force_uherding(x, p, [8], [2], 2, 1.0, 0.5)


def test_no_labels_is_max_herding():
    x = np.random.default_rng(4).normal(size=(30, 4))
    p = np.random.default_rng(5).dirichlet(np.ones(3), size=30)
    ctx = context(x, probabilities=p)
    plain = get_strategy("max-herding").select(ctx, 6, np.random.default_rng(0))
    weighted = get_strategy("uncertainty-herding").select(ctx, 6, np.random.default_rng(0))
    np.testing.assert_array_equal(weighted.indices, plain.indices)
    assert weighted.info == {"temperature": None, "bandwidth": 1.0}


def test_calibrated_temperature_cools_an_overconfident_learner():
    # 20 predictions at confidence 0.9 over 3 classes, half of them right: ECE falls as
    # T flattens the confidence towards the 0.5 accuracy
    p = np.tile([0.9, 0.05, 0.05], (20, 1))
    labels = np.array([0, 1] * 10)
    t = calibrated_temperature(p, labels, 3)
    assert t == pytest.approx(reference_temperature(p, labels, 3))
    assert 1.5 < t < 19.9
    assert calibrated_temperature(np.tile([0.5, 0.3, 0.2], (10, 1)), np.zeros(10), 3) == 1.0


def test_adaptive_bandwidth_is_the_smallest_labelled_distance():
    x = on_circle(np.array([0.0, 0.3, 1.0, 2.0, 2.0, 3.0]))
    p = np.full((6, 2), 0.5)
    ctx = context(x, [0, 2, 3, 4], [0, 1, 0, 0], n_classes=2, probabilities=p)
    picked = get_strategy("uncertainty-herding").select(ctx, 1, np.random.default_rng(0))
    # rows 3 and 4 coincide (a duplicate, not a distance); rows 0 and 2 are 1 rad apart
    assert picked.info["bandwidth"] == pytest.approx(2 * np.sin(0.5))


@pytest.mark.parametrize(
    "spec",
    [
        "uncertainty-herding(uncertainty='bald')",
        "uncertainty-herding(temperature=0)",
        "uncertainty-herding(temperature='auto')",
        "uncertainty-herding(bandwidth=-1.0)",
        "cb-sq(clusters_per_class=0)",
    ],
)
def test_bad_options_are_one_line_errors(spec):
    with pytest.raises(InvalidSpecError):
        get_strategy(spec)


# --- CB+SQ ----------------------------------------------------------------------------------


def test_deal_slots_by_hand():
    # clusters 0..3 of sizes 6, 5, 4, 3; rows 0, 1 (cluster 0) labelled; distances to the
    # centre rise with the row index inside each cluster; row 6 (nearest of cluster 1) is
    # confident, and so is row 13 (last of cluster 2)
    clusters = np.array([0] * 6 + [1] * 5 + [2] * 4 + [3] * 3)
    distances = np.arange(clusters.size, dtype=float)
    confident = np.zeros(clusters.size, dtype=bool)
    confident[[6, 13]] = True
    queried, pseudo = deal_slots(clusters, distances, np.array([0, 1]), 4, confident)
    # ratios 2/6, 0, 0, 0: cluster 1 (largest at 0) -> row 6, confident: pseudo-labelled;
    # then clusters 2 and 3 (ratio 0) -> rows 11, 15; then cluster 1 (1/5) -> row 7;
    # then cluster 2 (1/4 < 2/6 = 1/3 of clusters 0 and 3) -> row 12
    np.testing.assert_array_equal(pseudo, [6])
    np.testing.assert_array_equal(queried, [11, 15, 7, 12])


def test_deal_slots_pseudo_labels_only_within_the_first_budget_slots():
    clusters = np.array([0, 0, 0, 1, 1, 1])
    confident = np.ones(6, dtype=bool)
    queried, pseudo = deal_slots(clusters, np.arange(6.0), np.zeros(0, dtype=int), 2, confident)
    # slots 1-2 (clusters 0, 1: pseudo), slots 3-4 (clusters 0, 1 at 1/3: queried)
    np.testing.assert_array_equal(pseudo, [0, 3])
    np.testing.assert_array_equal(queried, [1, 4])


def test_deal_slots_queries_a_confident_sample_when_the_pool_runs_short():
    clusters = np.array([0, 0, 1, 1])
    confident = np.ones(4, dtype=bool)
    queried, pseudo = deal_slots(clusters, np.zeros(4), np.array([0]), 3, confident)
    assert sorted(queried.tolist()) == [1, 2, 3] and pseudo.size == 0
    queried, pseudo = deal_slots(clusters, np.zeros(4), np.array([0]), 2, confident)
    # cluster 1 (ratio 0) first: row 2 may be pseudo-labelled, as rows 1 and 3 remain;
    # then both clusters stand at 1/2 (the lower id: row 1) and only row 3 is left
    np.testing.assert_array_equal(pseudo, [2])
    np.testing.assert_array_equal(queried, [1, 3])


def brute_force_cbsq(x, p, text, groups, labelled, labels, budget):
    """CB+SQ as read in ``cbsq.py`` (``budget`` slots, confident ones pseudo-labelled), then
    one queried slot per pseudo-label as albench documents; the known groups are the
    clusters, ranked by cosine distance to each group's mean."""
    guided = p @ unit(text)
    z = unit(np.hstack([unit(x), guided]))
    confidence, predicted = p.max(axis=1), p.argmax(axis=1)
    thresholds = {c: 99.0 for c in range(p.shape[1])}
    for c in range(p.shape[1]):
        members = [i for i, y in zip(labelled, labels, strict=True) if y == c]
        if members:
            thresholds[c] = np.mean(confidence[members])
    size = {g: int((groups == g).sum()) for g in np.unique(groups)}
    count = {g: sum(groups[i] == g for i in labelled) for g in size}
    ranked = {}
    for g in size:
        members = np.flatnonzero(groups == g)
        d = cdist(z[members], z[members].mean(axis=0, keepdims=True), "cosine").ravel()
        ranked[g] = [m for m in members[np.argsort(d, kind="stable")] if m not in labelled]
    left = sum(len(r) for r in ranked.values())
    queried, pseudo, slot = [], [], 0
    while len(queried) < budget:
        ratio = {g: count[g] / size[g] for g in size if ranked[g]}
        low = min(ratio.values())
        g = max([g for g, r in ratio.items() if r == low], key=size.get)
        sample = ranked[g].pop(0)
        count[g] += 1
        left -= 1
        slot += 1
        confident = confidence[sample] >= thresholds[predicted[sample]]
        if confident and slot <= budget and left >= budget - len(queried):
            pseudo.append(sample)
        else:
            queried.append(sample)
    return queried, pseudo, predicted[pseudo].tolist()


def separated_pool(group_sizes, seed):
    """Tight groups of image features around far-apart directions, with probabilities."""
    rng = np.random.default_rng(seed)
    dim = max(8, len(group_sizes))
    directions = np.eye(dim)[: len(group_sizes)] * 6.0
    groups = np.repeat(np.arange(len(group_sizes)), group_sizes)
    x = directions[groups] + rng.normal(scale=0.05, size=(groups.size, dim))
    return unit(x), groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cb_sq_equals_the_reference_on_well_separated_groups(seed):
    # C = 2, clusters_per_class = 2 and |L| = 2: 6 clusters, one per group; the groups
    # differ in size, so no tie between clusters falls to k-means' arbitrary cluster ids
    x, groups = separated_pool([8, 7, 6, 5, 4, 3], seed)
    rng = np.random.default_rng(10 + seed)
    text = rng.normal(size=(2, 8))
    first = rng.uniform(0.55, 0.95, size=groups.size)
    p = np.stack([first, 1 - first], axis=1)
    p[groups % 2 == 1] = p[groups % 2 == 1][:, ::-1]  # odd groups lean to class 1
    labelled, labels = [0, 8], [0, 1]
    ctx = context(x, labelled, labels, n_classes=2, probabilities=p, text_embeddings=text)
    picked = get_strategy("cb-sq(clusters_per_class=2)").select(ctx, 5, np.random.default_rng(0))
    queried, pseudo, pseudo_labels = brute_force_cbsq(x, p, text, groups, labelled, labels, 5)
    assert picked.info["clusters"] == 6
    assert list(picked.indices) == queried
    assert list(picked.pseudo_indices) == pseudo
    assert list(picked.pseudo_labels) == pseudo_labels
    assert len(picked.indices) == 5 and not set(pseudo) & (set(queried) | set(labelled))


def test_cb_sq_pseudo_labels_the_samples_above_their_class_threshold():
    # one group per cluster (C = 2, |L| = 2, 1 cluster per class: 4 clusters); the labelled
    # samples of class 0 have mean confidence 0.8, class 1 has none labelled (never pseudo)
    x, groups = separated_pool([6, 5, 4, 3], 0)
    confidence = np.full(groups.size, 0.6)
    confidence[[0, 1]] = [0.7, 0.9]  # labelled, class 0: threshold 0.8
    confidence[[6, 7, 8, 9, 10]] = 0.85  # group 1, predicted 0: above the threshold
    p = np.stack([confidence, 1 - confidence], axis=1)
    p[groups == 3] = p[groups == 3][:, ::-1]  # group 3 predicted 1, confidence 0.6
    text = np.eye(8)[:2]
    ctx = context(x, [0, 1], [0, 0], n_classes=2, probabilities=p, text_embeddings=text)
    picked = get_strategy("cb-sq(clusters_per_class=1)").select(ctx, 3, np.random.default_rng(0))
    queried, pseudo, _ = brute_force_cbsq(x, p, text, groups, [0, 1], [0, 0], 3)
    assert list(picked.indices) == queried and list(picked.pseudo_indices) == pseudo
    # the reference's 3 slots: group 1 (ratio 0, largest: pseudo), groups 2 and 3 (queried);
    # one more slot for the pseudo-label, queried: group 1 again (1/5, the lowest ratio)
    assert groups[picked.pseudo_indices].tolist() == [1]
    assert groups[picked.indices].tolist() == [2, 3, 1]
    assert picked.pseudo_labels.tolist() == [0]
    plain = get_strategy("cb-sq(clusters_per_class=1, selective=False)").select(
        ctx, 3, np.random.default_rng(0)
    )
    assert plain.pseudo_indices.size == 0 and len(plain.indices) == 3


def test_cb_sq_first_round_is_one_pick_per_class_cluster():
    x, groups = separated_pool([4, 6, 5], 1)
    p = np.full((groups.size, 3), 1 / 3)
    ctx = context(x, probabilities=p, text_embeddings=np.eye(8)[:3])
    picked = get_strategy("cb-sq").select(ctx, 3, np.random.default_rng(0))
    assert picked.info["clusters"] == 3 and picked.pseudo_indices.size == 0
    assert sorted(groups[picked.indices].tolist()) == [0, 1, 2]
    queried, _, _ = brute_force_cbsq(x, p, np.eye(8)[:3], groups, [], [], 3)
    assert list(picked.indices) == queried  # largest cluster first


@pytest.mark.usefixtures("one_thread")
def test_cb_sq_pseudo_labels_cost_no_budget_in_a_run():
    inputs = make_inputs()
    protocol = Protocol(rounds=2, budget="2/class", initial_size="2/class", pseudo_labels=True)
    result = run(RunSpec("blobs", "fake", "linear", "cb-sq", 0, protocol=protocol), inputs)
    rows = result.rows
    assert rows["n_labelled"].tolist() == [8, 16, 24]
    assert rows["n_pseudo"].sum() > 0
    for record in result.selections["rounds"]:
        assert len(record["indices"]) == 8
        assert record["info"]["pseudo_labels"] == len(record["pseudo_indices"])
        assert not set(record["pseudo_indices"]) & set(record["indices"])


# --- the plain implementations benchmarks/ times them against --------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_benchmark_references_pick_what_the_strategies_pick(seed):
    from benchmarks.references.cb_sq_plain import cb_sq_plain
    from benchmarks.references.uherding_full_matrix import uherding_full_matrix

    rng = np.random.default_rng(seed)
    x = unit(rng.normal(size=(40, 6))).astype(np.float32)
    p = rng.dirichlet(np.ones(3) * 0.5, size=40)
    labelled, labels = np.array([1, 5, 22]), np.array([0, 2, 2])
    ctx = context(x, labelled, labels, probabilities=p)
    picked = get_strategy("uncertainty-herding").select(ctx, 6, np.random.default_rng(0))
    expected = uherding_full_matrix(x.astype(np.float64), p, labelled, labels, 6)
    assert picked.indices.tolist() == expected.tolist()

    # 4C + |L| = 9 clusters; no group of two, whose members tie for the nearest to its mean
    x, groups = separated_pool([11, 10, 9, 8, 7, 6, 5, 4, 3], seed)
    first = rng.uniform(0.55, 0.95, size=groups.size)
    p = np.stack([first, 1 - first], axis=1)
    text = rng.normal(size=(2, 9))
    ctx = context(x, [0], [0], n_classes=2, probabilities=p, text_embeddings=text)
    picked = get_strategy("cb-sq").select(ctx, 4, np.random.default_rng(0))
    queried, pseudo = cb_sq_plain(x, p, text, np.array([0]), np.array([0]), 4)
    assert picked.indices.tolist() == queried and picked.pseudo_indices.tolist() == pseudo
