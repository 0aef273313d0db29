"""The synthetic pool as a strategy sees it: a :class:`StrategyContext` over the features of
:mod:`benchmarks.inputs`, with the probabilities, BADGE factors, linear head, text
embeddings and MC-dropout passes of one linear head on them."""

from __future__ import annotations

import numpy as np

from albench.capabilities import (
    EMBED,
    GRAD_EMBEDDING,
    LINEAR_HEAD,
    MC_PROBABILITIES,
    PROBABILITIES,
    TEXT_EMBEDDINGS,
    GradEmbedding,
    LinearHead,
)
from albench.strategies.base import StrategyContext
from benchmarks.inputs import LOGIT_SCALE, Size, class_centres, clip_like

#: dropout rate and passes of the MC-dropout strategies' synthetic learner
DROPOUT, PASSES = 0.2, 100


def pool(size: Size) -> tuple[np.ndarray, np.ndarray, LinearHead, np.ndarray]:
    """Features, probabilities, the head that gives them, and the labelled rows' labels."""
    x, p = clip_like(size.n, size.n_classes)
    head = LinearHead(
        weight=LOGIT_SCALE * class_centres(size.n_classes), bias=np.zeros(size.n_classes)
    )
    return x, p, head, p[: size.n_labelled].argmax(axis=1)


def mc_passes(size: Size, samples: int = PASSES) -> np.ndarray:
    """(N, T, C) consistent MC-dropout passes of the pool's head: pass t drops the same input
    coordinates of every row (one sampled model per pass), survivors scaled by 1/(1-p)."""
    x, _, head, _ = pool(size)
    masks = np.random.default_rng(1).random((samples, x.shape[1])) >= DROPOUT
    out = np.empty((size.n, samples, size.n_classes), dtype=np.float32)
    for t, mask in enumerate(masks):
        out[:, t] = head.probabilities(x * (mask / (1.0 - DROPOUT)))
    return out


def context(size: Size, device: str = "cpu") -> StrategyContext:
    """The pool of ``size`` as a strategy sees it, selecting on ``device``."""
    x, p, head, labels = pool(size)
    scale = p.copy()
    scale[np.arange(size.n), p.argmax(axis=1)] -= 1.0
    return StrategyContext(
        features=x,
        labelled=np.arange(size.n_labelled),
        labelled_labels=labels,
        n_classes=size.n_classes,
        providers={
            PROBABILITIES: lambda: p,
            EMBED: lambda: x,
            LINEAR_HEAD: lambda: head,
            GRAD_EMBEDDING: lambda: GradEmbedding(scale=scale, x=x),
            TEXT_EMBEDDINGS: lambda: class_centres(size.n_classes),
            MC_PROBABILITIES: lambda samples: mc_passes(size, samples),
        },
        device=device,
    )
