"""BADGE's gradient-embedding factors of chosen pool rows, gathered in row blocks.

BADGE and LoGo need the factors (:class:`~albench.capabilities.GradEmbedding`) of the
unlabelled rows only. Asking the learner for the whole pool and then indexing it holds the
pool's factors, their unlabelled copy and the learner's temporaries at once (about nine
times the feature matrix at C = 1,000, d = 512); filling two preallocated arrays block by
block holds the unlabelled factors and one block's temporaries. The factors themselves are
what the algorithm reads at every pick: ``scale`` is (U, C), C/d times the features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from albench.capabilities import GRAD_EMBEDDING, GradEmbedding
from albench.strategies.base import StrategyContext


def grad_factors(ctx: StrategyContext, rows: np.ndarray, *, on_device: bool = True) -> Any:
    """The learner's gradient-embedding factors of ``rows`` (in that order), float32: numpy
    arrays, or with ``on_device`` on a GPU run, tensors on the run's device filled block by
    block from the learner's device outputs (the pick loop then runs there; nothing of the
    pool's size crosses to the host)."""
    device = ctx.device if on_device else "cpu"
    scale: Any = None
    x: Any = None
    n_cols = ctx.n_classes + ctx.features.shape[1]
    at = 0
    for chunk, block in ctx.blocks(GRAD_EMBEDDING, rows, n_cols, on_device=on_device):
        if scale is None:
            scale = _empty(rows.size, block.scale.shape[1], device)
            x = _empty(rows.size, block.x.shape[1], device)
        scale[at : at + chunk.size] = block.scale
        x[at : at + chunk.size] = block.x
        at += chunk.size
    if scale is None:
        scale = _empty(0, ctx.n_classes, device)
        x = _empty(0, ctx.features.shape[1], device)
    return GradEmbedding(scale=scale, x=x)


def _empty(n_rows: int, n_cols: int, device: str) -> Any:
    if device == "cpu":
        return np.empty((n_rows, n_cols), dtype=np.float32)
    import torch  # only a run on a GPU gets here

    return torch.empty((n_rows, n_cols), dtype=torch.float32, device=device)
