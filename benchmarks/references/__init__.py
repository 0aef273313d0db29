"""Named reference implementations the kernels are measured against.

Each re-implements, from its published description, an approach found in public active-
learning code, so ``make bench`` can report the kernels' speed and memory as ratios measured
in the same run. They select what the kernels select (see tests/test_references.py).
"""

from benchmarks.references.badge_factorised_rv import badge_factorised_rv
from benchmarks.references.badge_materialised import badge_materialised
from benchmarks.references.k_center_full_matrix import k_center_full_matrix
from benchmarks.references.k_center_pairwise import k_center_pairwise

#: name shown in docs/benchmarks.md -> (function, one-line description)
REFERENCES = {
    "k_center_full_matrix": (k_center_full_matrix, "(a) greedy k-center over a full N x N matrix"),
    "k_center_pairwise": (
        k_center_pairwise,
        "(b) greedy k-center, one sklearn pairwise_distances call per pick",
    ),
    "badge_materialised": (
        badge_materialised,
        "(c) BADGE on materialised N x (C*d) gradient embeddings, rv_discrete draws",
    ),
    "badge_factorised_rv": (
        badge_factorised_rv,
        "(d) factorised BADGE, a new scipy rv_discrete per pick",
    ),
}

__all__ = [
    "REFERENCES",
    "badge_factorised_rv",
    "badge_materialised",
    "k_center_full_matrix",
    "k_center_pairwise",
]
