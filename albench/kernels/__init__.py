"""Selection kernels shared by the geometry-based strategies.

``greedy_k_center`` (core-set, Sener & Savarese 2018) and ``kmeanspp_select`` (BADGE, Ash et
al. 2020) are plain functions over arrays, testable and benchmarkable apart from the strategy
classes that configure them. Neither allocates an N x N or an N x (C*d) matrix.
"""

from albench.kernels.k_center import greedy_k_center
from albench.kernels.kmeanspp import gradient_embedding_sq_dists, kmeanspp_select

__all__ = ["gradient_embedding_sq_dists", "greedy_k_center", "kmeanspp_select"]
