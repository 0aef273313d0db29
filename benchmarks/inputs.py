"""Synthetic CLIP-like inputs at the benchmark sizes.

Features are L2-normalised d=512 rows drawn around C Gaussian class centres (CLIP image
embeddings of a C-class dataset cluster by class, some rows typical, some not);
probabilities are a softmax over scaled cosine similarities to the class centres, as a
zero-shot CLIP head produces. The first ``n_labelled`` rows form the labelled set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FEATURE_DIM = 512
#: softmax temperature giving a spread of confident and ambiguous predictions
LOGIT_SCALE = 10.0


@dataclass(frozen=True)
class Size:
    name: str
    n: int
    n_labelled: int
    n_classes: int
    budget: int


SIZES = {
    "S": Size("S", 10_000, 1_000, 100, 100),
    "M": Size("M", 50_000, 5_000, 100, 1_000),
    "L": Size("L", 100_000, 10_000, 1_000, 1_000),
}


@lru_cache(maxsize=2)
def class_centres(n_classes: int, seed: int = 0) -> np.ndarray:
    """(C, 512) unit class centres of :func:`clip_like` (its first draw): the classifier
    ``softmax(LOGIT_SCALE * features @ centres.T)`` gives its probabilities exactly."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, FEATURE_DIM), dtype=np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


@lru_cache(maxsize=2)
def clip_like(n: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 512) float32 unit rows, probabilities (n, C) float32)."""
    rng = np.random.default_rng(seed)
    rng.standard_normal((n_classes, FEATURE_DIM), dtype=np.float32)  # class_centres' draw
    centres = class_centres(n_classes, seed)
    labels = rng.integers(n_classes, size=n)
    typicality = rng.uniform(0.3, 1.5, size=(n, 1)).astype(np.float32)
    noise = 0.08 * rng.standard_normal((n, FEATURE_DIM), dtype=np.float32)
    features = typicality * centres[labels] + noise
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    logits = LOGIT_SCALE * (features @ centres.T)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return features, probs.astype(np.float32)


def badge_factors(size: Size) -> tuple[np.ndarray, np.ndarray]:
    """BADGE factors of the unlabelled rows: scale = p - onehot(argmax p), x = features.

    The last-layer gradient of the cross-entropy at the predicted label is
    ``(p - e_yhat) ⊗ x`` (Ash et al., ICLR 2020, Sec. 3).
    """
    features, probs = clip_like(size.n, size.n_classes)
    probs = probs[size.n_labelled :]
    scale = probs.copy()
    scale[np.arange(scale.shape[0]), probs.argmax(axis=1)] -= 1.0
    return scale, features[size.n_labelled :]


@dataclass(frozen=True)
class ScaleSize:
    """A pool of ImageNet's scale: ``n`` rows, C = 1,000, one label per class, B = C."""

    name: str
    n: int
    n_labelled: int = 1_000
    n_classes: int = 1_000
    budget: int = 1_000


SCALE_SIZES = {
    s.name: s
    for s in (ScaleSize("100k", 100_000), ScaleSize("320k", 320_000), ScaleSize("1.28M", 1_280_000))
}
#: rows generated at a time by :func:`clip_like_rows` (32 MiB of float32 noise)
CHUNK_ROWS = 1 << 14


def clip_like_rows(n: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 512) float32 unit rows, their class labels), drawn as :func:`clip_like`
    draws them around :func:`class_centres`, but chunk by chunk (chunk i from the i-th child
    of ``SeedSequence(seed)``), so that nothing beyond the features and one chunk is held:
    no (n, C) probabilities, no float64 copy."""
    centres = class_centres(n_classes, seed)
    features = np.empty((n, FEATURE_DIM), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    starts = range(0, n, CHUNK_ROWS)
    for start, child in zip(starts, np.random.SeedSequence(seed).spawn(len(starts)), strict=True):
        rng = np.random.default_rng(child)
        stop = min(start + CHUNK_ROWS, n)
        rows = features[start:stop]
        labels[start:stop] = rng.integers(n_classes, size=stop - start)
        rows[:] = centres[labels[start:stop]]
        rows *= rng.uniform(0.3, 1.5, size=(stop - start, 1)).astype(np.float32)
        rows += 0.08 * rng.standard_normal((stop - start, FEATURE_DIM), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return features, labels
