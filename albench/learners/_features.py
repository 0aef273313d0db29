"""Helpers shared by the feature-space learners: tensors in, grad-embedding factors out."""

from __future__ import annotations

import numpy as np
import torch

from albench.capabilities import GradEmbedding
from albench.learners.base import LearnerContext
from albench.seeding import torch_seed


def unit_rows(features: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """(N, d) array (float16 memmaps included) -> float32 tensor with L2-normalised rows.

    CLIP classifies by cosine similarity, so every learner works on the unit sphere; cached
    features are float16 and re-normalising after the cast removes the rounding drift.
    """
    x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
    return torch.nn.functional.normalize(x, dim=1)


def as_tensor(array: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """A float32 tensor copy of ``array`` (cached arrays are read-only memory maps)."""
    return torch.tensor(np.asarray(array, dtype=np.float32), device=device)


def badge_factors(probs: torch.Tensor, x: torch.Tensor) -> GradEmbedding:
    """BADGE factors (Ash et al., ICLR 2020, eq. 1) for a last layer ``logits = x @ W.T``.

    The cross-entropy gradient w.r.t. W at the hypothetical label argmax p is
    (p - onehot(argmax p)) outer x, so ``scale`` and ``x`` are returned unmultiplied.
    """
    scale = probs.to(torch.float32, copy=True)
    scale[torch.arange(scale.shape[0], device=scale.device), probs.argmax(dim=1)] -= 1.0
    return GradEmbedding(scale=scale.cpu().numpy(), x=x.to(torch.float32).cpu().numpy())


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from the caller's numpy stream (no global RNG)."""
    generator = torch.Generator()
    generator.manual_seed(torch_seed(rng))
    return generator


def fork(generator: torch.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by one draw from ``generator``: a stream of its own
    whose later draws do not shift those of ``generator``."""
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
    return torch.Generator().manual_seed(seed)


class LinearHeadOutputs:
    """``predict_proba``, ``grad_embedding`` and ``embed`` of a learner whose last layer is
    linear on the normalised image features; the learner supplies ``_probs(x)``."""

    context: LearnerContext

    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self._probs(unit_rows(features, self.context.device)).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        x = unit_rows(features, self.context.device)
        return badge_factors(self._probs(x), x)

    def embed(self, features: np.ndarray) -> np.ndarray:
        return unit_rows(features, self.context.device).cpu().numpy()
