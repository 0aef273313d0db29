"""Selection geometry shared by the strategies, as plain functions over arrays.

Greedy k-center (core-set, Sener & Savarese 2018), BADGE's factorised k-means++ seeding
(Ash et al. 2020), Lloyd's k-means over the same factors (LoGo, Kim et al. 2023), k-means
cluster ids, TypiClust's typicality, ProbCover's delta-ball graphs, MaxHerding's greedy
kernel coverage (Bae et al. 2024), BALD's and BatchBALD's entropies of MC-dropout passes
(Kirsch et al. 2019) and unit-length rows: testable and benchmarkable apart
from the strategy classes that configure them. None allocates an N x N or an N x (C*d)
matrix; every blocked loop sizes its blocks by the one rule of :mod:`albench.kernels.blocks`.

The names below resolve on first use (PEP 562): importing ``albench.kernels``, and with it
``albench.strategies``, costs no torch, scikit-learn or scipy import, so strategy names can
be checked in well under a second. Strategies call ``kernels.<name>(...)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from albench.kernels.balls import ball_graph, impure_radius
    from albench.kernels.clustering import kmeans_labels, nearest_to_means
    from albench.kernels.factorised_kmeans import gradient_embedding_kmeans
    from albench.kernels.herding import max_herding
    from albench.kernels.joint_entropy import BatchJoint, conditional_entropy, mutual_information
    from albench.kernels.k_center import greedy_k_center
    from albench.kernels.kmeanspp import gradient_embedding_sq_dists, kmeanspp_select
    from albench.kernels.normalise import unit_rows
    from albench.kernels.typicality import ShrinkingTypicality, member_typicality

#: public name -> the module of this package that defines it
_HOMES = {
    "BatchJoint": "joint_entropy",
    "ShrinkingTypicality": "typicality",
    "conditional_entropy": "joint_entropy",
    "mutual_information": "joint_entropy",
    "ball_graph": "balls",
    "gradient_embedding_kmeans": "factorised_kmeans",
    "gradient_embedding_sq_dists": "kmeanspp",
    "greedy_k_center": "k_center",
    "impure_radius": "balls",
    "kmeans_labels": "clustering",
    "kmeanspp_select": "kmeanspp",
    "max_herding": "herding",
    "member_typicality": "typicality",
    "nearest_to_means": "clustering",
    "unit_rows": "normalise",
}

__all__ = [
    "BatchJoint",
    "ShrinkingTypicality",
    "ball_graph",
    "conditional_entropy",
    "gradient_embedding_kmeans",
    "gradient_embedding_sq_dists",
    "greedy_k_center",
    "impure_radius",
    "kmeans_labels",
    "kmeanspp_select",
    "max_herding",
    "member_typicality",
    "mutual_information",
    "nearest_to_means",
    "unit_rows",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
