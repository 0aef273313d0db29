"""The field's newer baselines on small inputs whose right answer is known independently.

Each strategy is checked against a brute-force reference written here from the paper (the
materialised embeddings, a plain loop), never against albench's own kernels.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from test_strategies_exact import blobs, context

from albench.strategies import get_strategy

# --- TCM ------------------------------------------------------------------------------------


def brute_force_margin(probabilities: np.ndarray, budget: int) -> list[int]:
    ranked = sorted(
        range(len(probabilities)), key=lambda i: (np.diff(np.sort(probabilities[i])[-2:])[0], i)
    )
    return ranked[:budget]


def test_tcm_queries_typical_blob_centres_before_the_switch():
    x, centre = blobs()
    p = np.random.default_rng(0).dirichlet(np.ones(3), size=len(x))
    ctx = context(x, n_classes=3, probabilities=p)
    selected = get_strategy("tcm(labels_per_class=1)").select(ctx, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(selected.indices, [centre["a"], centre["b"], centre["c"]])
    assert selected.info["phase"] == "typiclust"


def test_tcm_queries_the_smallest_margins_from_the_switch_on():
    x, centre = blobs()
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
