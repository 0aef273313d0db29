"""The field's newer baselines on small inputs whose right answer is known independently.

Each strategy is checked against a brute-force reference written here from the paper (the
materialised embeddings, a plain loop), never against albench's own kernels.
"""

from __future__ import annotations

import numpy as np
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
