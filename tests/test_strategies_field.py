"""The field's newer baselines on small inputs whose right answer is known independently.

Each strategy is checked against a brute-force reference written here from the paper (the
materialised embeddings, a plain loop), never against albench's own kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_strategies_exact import blobs, context

from albench import kernels
from albench.capabilities import GradEmbedding, LinearHead
from albench.initial import INITIAL_POLICIES
from albench.kernels import factorised_kmeans
from albench.strategies import get_strategy
from albench.strategies.alfa_mix import class_anchors, mixing_candidates
from albench.strategies.candidates import cluster_representatives
from albench.strategies.dropquery import dropout_candidates
from albench.strategies.logo import most_uncertain_per_cluster

# --- TCM ------------------------------------------------------------------------------------


def brute_force_margin(probabilities: np.ndarray, budget: int) -> list[int]:
    ranked = sorted(
        range(len(probabilities)), key=lambda i: (np.diff(np.sort(probabilities[i])[-2:])[0], i)
    )
    return ranked[:budget]


def test_tcm_queries_typical_blob_centres_before_the_switch():
    x, members, centre = blobs()
    p = np.random.default_rng(0).dirichlet(np.ones(3), size=len(x))
    ctx = context(x, n_classes=3, probabilities=p)
    selected = get_strategy("tcm(labels_per_class=1)").select(ctx, 3, np.random.default_rng(0))
    typiclust = get_strategy("typiclust").select(ctx, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(selected.indices, typiclust.indices)
    # blob c (4 points) is below TypiClust's minimum cluster size: the third pick is in a
    assert selected.indices[:2].tolist() == [centre["a"], centre["b"]]
    assert selected.indices[2] in members["a"] and selected.info["phase"] == "typiclust"


def test_tcm_queries_the_smallest_margins_from_the_switch_on():
    x, _, centre = blobs()
    p = np.random.default_rng(1).dirichlet(np.ones(3), size=len(x))
    labelled = [centre["a"], centre["b"], centre["c"]]
    ctx = context(x, labelled, [0, 1, 2], n_classes=3, probabilities=p)
    selected = get_strategy("tcm(labels_per_class=1)").select(ctx, 4, np.random.default_rng(0))
    pool = np.setdiff1d(np.arange(len(x)), labelled)
    expected = pool[brute_force_margin(p[pool], 4)]
    np.testing.assert_array_equal(selected.indices, expected)
    assert selected.info["phase"] == "margin"


# --- documentation --------------------------------------------------------------------------


def test_docs_strategies_has_one_row_per_built_in_strategy():
    from pathlib import Path

    from albench.strategies import REGISTRY
    from albench.strategies.registry import BUILT_IN

    text = (Path(__file__).parents[1] / "docs" / "strategies.md").read_text()
    text = text.split("\n## ")[0]  # the strategy table, not the cost table after it
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    }
    built_in = {name for name in REGISTRY.names() if REGISTRY.origin(name) == BUILT_IN}
    assert {row.split("(")[0] for row in rows} == built_in


# --- Cluster-Margin -------------------------------------------------------------------------


def on_circle(angles) -> np.ndarray:
    angles = np.asarray(angles, dtype=float)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def cluster_margin_pool() -> tuple[np.ndarray, np.ndarray]:
    """Groups of 1 (index 0), 2 (1-2) and 3 (3-5) uncertain points; 6-9 confident ones."""
    x = on_circle([0.0, 2.0, 2.02, 4.0, 4.02, 4.04, 4.01, 0.01, 2.01, 1.0])
    margins = np.array([0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.9, 0.9, 0.9, 0.9])
    top = (1 + margins) / 2
    p = np.stack([top, 1 - top, np.zeros(10)], axis=1)
    return x, p


def test_cluster_margin_round_robin_from_the_smallest_cluster_draws_uniformly():
    x, p = cluster_margin_pool()
    strategy = get_strategy("cluster-margin(candidates=1.5, threshold=0.1)")
    picks = np.array(
        [
            strategy.select(
                context(x, probabilities=p, embed=x), 4, np.random.default_rng(s)
            ).indices
            for s in range(300)
        ]
    )
    # turn 1: the singleton, one of the pair, one of the triple; turn 2: the pair's other
    assert (picks[:, 0] == 0).all()
    assert np.isin(picks[:, 1], [1, 2]).all() and np.isin(picks[:, 2], [3, 4, 5]).all()
    assert (np.sort(picks[:, [1, 3]], axis=1) == [1, 2]).all()
    for column, members in ((1, [1, 2]), (2, [3, 4, 5])):
        counts = np.array([(picks[:, column] == m).sum() for m in members])
        assert stats.chisquare(counts).pvalue > 1e-3


def test_cluster_margin_cuts_into_budget_clusters_without_a_threshold():
    x, p = cluster_margin_pool()
    ctx = context(x, probabilities=p, embed=x)
    selected = get_strategy("cluster-margin(candidates=2)").select(ctx, 3, np.random.default_rng(0))
    groups = np.array([0, 1, 1, 2, 2, 2, 2, 0, 1, 3])
    assert sorted(groups[selected.indices]) == [0, 1, 2]
    assert np.isin(selected.indices, np.arange(6)).all()


# --- LoGo -----------------------------------------------------------------------------------


def brute_force_lloyd(g: np.ndarray, seeds: list[int]) -> np.ndarray:
    """Plain Lloyd's k-means on materialised rows; empty centres stay where they are."""
    centres = g[seeds].copy()
    labels = None
    while True:
        d2 = np.array([[np.sum((row - c) ** 2) for c in centres] for row in g])
        new = d2.argmin(axis=1)
        if labels is not None and (new == labels).all():
            return labels
        labels = new
        for k in range(len(centres)):
            if (labels == k).any():
                centres[k] = g[labels == k].mean(axis=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_factorised_kmeans_equals_lloyd_on_materialised_gradient_embeddings(seed):
    rng = np.random.default_rng(seed)
    scale, x = rng.normal(size=(40, 3)), rng.normal(size=(40, 4))
    g = (scale[:, :, None] * x[:, None, :]).reshape(40, 12)
    seeds = rng.choice(40, 5, replace=False)
    labels = kernels.gradient_embedding_kmeans(scale, x, seeds)
    np.testing.assert_array_equal(labels, brute_force_lloyd(g, list(seeds)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_kmeans_on_the_gram_matrix_equals_lloyd_on_materialised_embeddings(seed):
    rng = np.random.default_rng(seed)
    scale, x = rng.normal(size=(40, 3)), rng.normal(size=(40, 4))
    g = (scale[:, :, None] * x[:, None, :]).reshape(40, 12)
    seeds = rng.choice(40, 8, replace=False)
    np.testing.assert_allclose(factorised_kmeans.gram(scale, x), g @ g.T, rtol=1e-12)
    labels = factorised_kmeans.kernel_lloyd(factorised_kmeans.gram(scale, x), seeds)
    np.testing.assert_array_equal(labels, brute_force_lloyd(g, list(seeds)))


def test_kernel_kmeans_keeps_a_centre_that_loses_its_members_in_place():
    # rows 0 and 1 are equal: both join centre 0 (ties: the lower id), centre 1 is left empty
    g = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = factorised_kmeans.kernel_lloyd(g @ g.T, np.array([0, 1, 2]))
    np.testing.assert_array_equal(labels, brute_force_lloyd(g, [0, 1, 2]))
    np.testing.assert_array_equal(labels, [0, 0, 2, 2])


def test_gradient_embedding_kmeans_takes_the_gram_form_only_when_cheaper_and_small():
    assert factorised_kmeans.gram_is_cheaper(20_000, 1_000, 512, 1_000)
    assert not factorised_kmeans.gram_is_cheaper(40, 3, 4, 5)  # tests and small pools
    assert not factorised_kmeans.gram_is_cheaper(100_000, 1_000, 512, 1_000)  # 80 GB


def test_logo_takes_the_highest_entropy_sample_of_each_blob():
    x, _, _ = blobs()
    n = len(x)
    entropy_order = np.random.default_rng(5).permutation(n)
    p = np.full((n, 3), 1 / 3)
    p[:, 0] += np.linspace(0.0, 0.6, n)[entropy_order]  # lower top-1, higher entropy
    p[:, 1:] = ((1 - p[:, 0]) / 2)[:, None]
    grads = GradEmbedding(scale=np.tile([0.5, -0.5, 0.0], (n, 1)), x=x)
    blob = np.repeat([0, 1, 2], [9, 5, 3])
    entropy = -(p * np.log(p)).sum(axis=1)
    expected = sorted(max(np.flatnonzero(blob == b), key=lambda i: entropy[i]) for b in range(3))
    for seed in range(5):
        ctx = context(x, probabilities=p, grad_embedding=grads)
        picked = get_strategy("logo").select(ctx, 3, np.random.default_rng(seed)).indices
        assert sorted(picked) == expected


def test_logo_fills_from_each_clusters_next_most_uncertain():
    clusters = np.array([0, 0, 0, 1, 1, 2])
    uncertainty = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2])
    # turn 1: 1 (0.9), 4 (0.8), 5 (0.2); turn 2: 2 (0.5), 3 (0.3); turn 3: 0
    np.testing.assert_array_equal(
        most_uncertain_per_cluster(clusters, uncertainty, 6), [1, 4, 5, 2, 3, 0]
    )


# --- DropQuery ------------------------------------------------------------------------------


def binomial_tail(q: float, iterations: int) -> float:
    """P(more than half of ``iterations`` flips), each flip with probability ``q``."""
    return float(stats.binom.sf(iterations // 2, iterations, q))


def test_dropquery_marks_candidates_with_the_dropout_law():
    # head = identity on 2-D: prediction = larger coordinate (tie: class 0)
    head = LinearHead(np.eye(2), np.zeros(2))
    z = np.array([[1.0, 0.5], [0.5, 1.0], [1.0, -1.0]])
    # flips: z0 iff coordinate 0 dropped and 1 kept, q = p(1-p); z1 iff coordinate 1
    # dropped, q = p; z2 never (dropping coordinate 0 leaves 0 >= the other logit)
    p, iterations, runs = 0.5, 3, 600
    laws = [binomial_tail(q, iterations) for q in (p * (1 - p), p, 0.0)]
    rng = np.random.default_rng(0)
    marked = np.array(
        [dropout_candidates(lambda: [z], head, p, iterations, rng) for _ in range(runs)]
    )
    for count, law in zip(marked.sum(axis=0), laws, strict=True):
        if law == 0.0:
            assert count == 0
        else:
            assert stats.binomtest(int(count), runs, law).pvalue > 1e-3


def test_candidate_representatives_are_the_blob_centres():
    x, _, centre = blobs()
    everything = np.arange(len(x))
    for seed in range(3):
        picked = cluster_representatives(x, everything, len(x), 3, np.random.default_rng(seed))
        assert sorted(picked) == sorted(centre.values())


def test_too_few_candidates_are_all_taken_and_the_rest_drawn_uniformly():
    x = on_circle(np.linspace(0, 3, 6))
    draws = np.array(
        [
            cluster_representatives(x[[4]], np.array([4]), 6, 2, np.random.default_rng(s))
            for s in range(500)
        ]
    )
    assert (draws[:, 0] == 4).all()
    counts = np.bincount(draws[:, 1], minlength=6)
    assert counts[4] == 0
    assert stats.chisquare(counts[[0, 1, 2, 3, 5]]).pvalue > 1e-3


def test_dropquery_queries_only_unstable_samples_when_there_are_enough():
    head = LinearHead(np.eye(2), np.zeros(2))
    stable = np.column_stack([np.ones(6), -np.ones(6) - np.arange(6)])  # never flip
    unstable = np.array([[0.5, 1.0], [0.4, 1.0], [0.3, 1.0], [0.2, 1.0]])  # flip w.p. p
    z = np.vstack([stable, unstable])
    ctx = context(on_circle(np.arange(10)), embed=z, linear_head=head)
    strategy = get_strategy("dropquery(p=0.5, iterations=1)")
    runs = [strategy.select(ctx, 1, np.random.default_rng(s)) for s in range(20)]
    with_candidates = [run.indices[0] for run in runs if run.info["candidates"] > 0]
    assert len(with_candidates) >= 15
    assert min(with_candidates) >= 6


# --- ALFA-Mix -------------------------------------------------------------------------------


def brute_force_alfa_mix(z, weight, bias, anchors, step, k) -> set[int]:
    """ALFA-Mix's candidate search, one sample and one anchor at a time (paper eq. 5)."""

    def predict(v):
        return int(np.argmax(weight @ v + bias))

    def grad(v):
        logits = weight @ v + bias
        p = np.exp(logits - logits.max())
        p /= p.sum()
        p[predict(v)] -= 1.0
        return weight.T @ p

    found: set[int] = set()
    cap = 0.0
    while cap < 1.0:
        cap += step
        eps = cap / np.sqrt(z.shape[1])
        for i, v in enumerate(z):
            g = grad(v)
            for anchor in anchors:
                d = anchor - v
                alpha = eps * np.linalg.norm(d) / np.linalg.norm(g) * g / (d + 1e-8)
                if predict((1 - alpha) * v + alpha * anchor) != predict(v):
                    found.add(i)
        if len(found) > k:
            return found
    return found


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("n", "h", "c"), [(30, 5, 3), (120, 12, 7)])
def test_alfa_mix_candidates_equal_the_per_sample_search(seed, n, h, c):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, h))
    head = LinearHead(rng.normal(size=(c, h)), rng.normal(size=c))
    labels = np.repeat(np.arange(c), 2)
    anchors = class_anchors(rng.normal(size=(labels.size, h)), labels, c)
    for k in (2, 8, n // 2):
        mask = mixing_candidates(z, head, anchors, 0.2, k)
        expected = brute_force_alfa_mix(z, head.weight, head.bias, anchors, 0.2, k)
        assert set(np.flatnonzero(mask)) == expected


def test_alfa_mix_anchor_of_a_class_without_labels_is_the_mean_of_all():
    anchors = class_anchors(np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([0, 0]), 2)
    np.testing.assert_allclose(anchors, [[2.0, 1.0], [2.0, 1.0]])


def test_alfa_mix_queries_the_samples_next_to_the_boundary():
    # identity head: prediction = larger coordinate. Anchors (1, 0) and (0, 1) labelled.
    # (1, .9) and (.9, 1) flip at the first cap; (1, -1) only once the cap reaches 1.
    z = np.array([[1.0, 0.9], [0.9, 1.0], [1.0, -1.0], [1.0, 0.0], [0.0, 1.0]])
    head = LinearHead(np.eye(2), np.zeros(2))
    ctx = context(z, [3, 4], [0, 1], n_classes=2, embed=z, linear_head=head)
    for seed in range(3):
        selection = get_strategy("alfa-mix").select(ctx, 1, np.random.default_rng(seed))
        assert selection.info["candidates"] == 2 and selection.indices[0] in (0, 1)
    anchors = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert list(np.flatnonzero(mixing_candidates(z[:3], head, anchors, 0.2, 2))) == [0, 1, 2]


def test_the_all_strategies_sweep_runs_every_strategy_the_linear_probe_serves():
    from pathlib import Path

    from albench.cli import build_parser
    from albench.commands.sweep_options import sweep_from_args
    from albench.learners import learner_info
    from albench.strategies import REGISTRY
    from albench.strategies.registry import BUILT_IN

    config = Path(__file__).parents[1] / "examples" / "all-strategies.toml"
    sweep = sweep_from_args(build_parser().parse_args(["run", f"--config={config}"]))
    served = learner_info("linear").provides({}) | {"image_features", "text_embeddings"}
    expected = {
        name
        for name in REGISTRY.names()
        if REGISTRY.origin(name) == BUILT_IN
        and not REGISTRY.cls(name).wraps
        and REGISTRY.cls(name).needs <= served
    }
    ran = {run.strategy for run in sweep.runs()}
    assert ran == expected | {"pcb(badge)"}
    assert len(sweep.runs()) == len(ran) * 5


# --- cold-start initial sets ----------------------------------------------------------------


def test_cold_start_typiclust_takes_the_centres_of_the_clusters_it_keeps():
    x, members, centre = blobs()
    picks = INITIAL_POLICIES["typiclust"](x, 3, np.random.default_rng(0), 3)
    assert sorted(picks[:2]) == sorted([centre["a"], centre["b"]])
    assert picks[2] in members["a"]  # blob c is below the minimum cluster size


def test_cold_start_probcover_covers_each_arc_with_its_delta_from_the_class_count():
    x = on_circle([-0.1, -0.05, 0.05, 0.0, 0.1, 2.0, 2.1, 1.9, 4.05, 4.0])
    picks = INITIAL_POLICIES["probcover"](x, 3, np.random.default_rng(0), 3)
    np.testing.assert_array_equal(picks, [0, 5, 8])  # every arc point covers its whole arc


@pytest.mark.parametrize("policy", ["typiclust", "probcover", "max-herding"])
def test_a_run_starts_from_the_cold_start_policys_picks(policy):
    from runner_fakes import make_inputs

    from albench.kernels import unit_rows
    from albench.protocol import Protocol
    from albench.runner import run
    from albench.seeding import stream
    from albench.specs import RunSpec

    inputs = make_inputs()
    protocol = Protocol(rounds=1, budget="1/class", initial_size="1/class", initial=policy)
    spec = RunSpec("blobs", "fake", "linear", "random", 0, protocol=protocol)
    result = run(spec, inputs)
    rng = stream(0, "initial", "blobs", policy, protocol.initial_size, str(120))
    features = unit_rows(inputs.pool_features)
    expected = INITIAL_POLICIES[policy](features, 4, rng, 4)
    np.testing.assert_array_equal(result.selections["initial"], expected)


# --- MaxHerding -----------------------------------------------------------------------------


def brute_force_max_herding(x, labelled, budget, h):
    """Greedy coverage with the whole N x N Gaussian kernel matrix, as the reference holds it."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    k = np.exp(-((x[:, None, :] - x[None, :, :]) ** 2).sum(-1) / h**2)
    best = k[labelled].max(axis=0) if len(labelled) else np.zeros(len(x))
    chosen = list(labelled)
    picks = []
    for _ in range(budget):
        gain = np.maximum(k - best[None, :], 0).mean(axis=1)
        gain[chosen] = -np.inf
        pick = int(np.argmax(gain))
        picks.append(pick)
        chosen.append(pick)
        best = np.maximum(best, k[pick])
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_herding_equals_greedy_coverage_on_the_full_kernel_matrix(seed):
    x = np.random.default_rng(seed).normal(size=(40, 5))
    for labelled in ([], [3, 17]):
        ctx = context(x, labelled, [0] * len(labelled))
        picked = get_strategy("max-herding(bandwidth=0.8)").select(ctx, 6, np.random.default_rng(0))
        assert list(picked.indices) == brute_force_max_herding(x, labelled, 6, 0.8)


def test_lazy_max_herding_keeps_plain_greedys_order_over_many_picks():
    x = np.random.default_rng(7).normal(size=(150, 4))
    ctx = context(x, [0, 1], [0, 0])
    picked = get_strategy("max-herding").select(ctx, 25, np.random.default_rng(0))
    assert list(picked.indices) == brute_force_max_herding(x, [0, 1], 25, 1.0)


def test_max_herding_covers_each_arc_from_its_centre():
    x = on_circle([-0.1, -0.05, 0.05, 0.0, 0.1, 2.0, 2.1, 1.9, 4.05, 4.0])
    picked = get_strategy("max-herding(bandwidth=0.1)").select(
        context(x), 3, np.random.default_rng(0)
    )
    assert sorted(picked.indices) == [3, 5, 8]  # arc c's two points tie: the lower index
    assert list(picked.indices) == brute_force_max_herding(x, [], 3, 0.1)


def test_cold_start_max_herding_is_the_strategy_from_no_labels():
    x = on_circle([-0.1, -0.05, 0.05, 0.0, 0.1, 2.0, 2.1, 1.9, 4.05, 4.0])
    picks = INITIAL_POLICIES["max-herding"](x, 3, np.random.default_rng(0), 3)
    assert list(picks) == brute_force_max_herding(x, [], 3, 1.0)
