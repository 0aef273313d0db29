"""Helpers shared by the feature-space learners: tensors in, grad-embedding factors out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from albench.capabilities import EMBED, GRAD_EMBEDDING, PROBABILITIES, GradEmbedding
from albench.learners.base import LearnerContext
from albench.seeding import torch_seed


def unit_rows(features: np.ndarray | torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """(N, d) array (float16 memmaps included) or tensor (a GPU run's pool, already on the
    device) -> float32 tensor on ``device`` with L2-normalised rows.

    CLIP classifies by cosine similarity, so every learner works on the unit sphere; cached
    features are float16 and re-normalising after the cast removes the rounding drift.
    """
    if isinstance(features, torch.Tensor):
        x = features.to(device=device, dtype=torch.float32)
    else:
        x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
    return torch.nn.functional.normalize(x, dim=1)


def as_tensor(array: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """A float32 tensor copy of ``array`` (cached arrays are read-only memory maps)."""
    return torch.tensor(np.asarray(array, dtype=np.float32), device=device)


def badge_factors(probs: torch.Tensor, x: torch.Tensor) -> GradEmbedding:
    """BADGE factors (Ash et al., ICLR 2020, eq. 1) for a last layer ``logits = x @ W.T``.

    The cross-entropy gradient w.r.t. W at the hypothetical label argmax p is
    (p - onehot(argmax p)) outer x, so ``scale`` and ``x`` are returned unmultiplied, as
    float32 tensors on the inputs' device.
    """
    scale = probs.to(torch.float32, copy=True)
    scale[torch.arange(scale.shape[0], device=scale.device), probs.argmax(dim=1)] -= 1.0
    return GradEmbedding(scale=scale, x=x.to(torch.float32))


def host_factors(factors: GradEmbedding) -> GradEmbedding:
    """Tensor factors (on any device) as numpy arrays."""
    return GradEmbedding(scale=factors.scale.cpu().numpy(), x=factors.x.cpu().numpy())


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
    linear on the normalised image features; the learner supplies ``_probs(x)``. Each is
    computed as a tensor on the run's device (:meth:`device_outputs`) and copied to host
    memory for the numpy contract."""

    context: LearnerContext

    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        return {
            PROBABILITIES: self._device_probabilities,
            GRAD_EMBEDDING: self._device_factors,
            EMBED: self._device_embedding,
        }

    def _device_probabilities(self, features: np.ndarray) -> torch.Tensor:
        return self._probs(self._device_embedding(features))

    def _device_factors(self, features: np.ndarray) -> GradEmbedding:
        x = self._device_embedding(features)
        return badge_factors(self._probs(x), x)

    def _device_embedding(self, features: np.ndarray) -> torch.Tensor:
        return unit_rows(features, self.context.device)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self._device_probabilities(features).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        return host_factors(self._device_factors(features))

    def embed(self, features: np.ndarray) -> np.ndarray:
        return self._device_embedding(features).cpu().numpy()
