"""CLIP-Adapter: a residual bottleneck MLP on the image features, cosine classifier on text.

Gao et al., "CLIP-Adapter: Better Vision-Language Models with Feature Adapters", IJCV 2023
(arXiv 2110.04544), visual-adapter variant:

    A(f) = ReLU(W_2 ReLU(W_1 f)),   W_1: d -> d / reduction,  W_2: d / reduction -> d
    f'   = alpha * A(f) + (1 - alpha) * f
    logits = logit_scale * normalise(f') @ T.T

with the text embeddings ``T`` frozen. Defaults follow the paper: ``reduction=4``,
``alpha=0.2``. Training is full-batch on the labelled features (a few hundred at most) with
AdamW (``lr=1e-3``, ``weight_decay=1e-2``, ``steps=200``); the linear layers start from
PyTorch's default uniform(+-1/sqrt(fan_in)) drawn from a generator seeded by the run's
learner stream. Before anything is fitted (no labels yet) the adapter is off and the
learner is exactly zero-shot CLIP.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from albench.capabilities import EMBED, GRAD_EMBEDDING, PROBABILITIES, GradEmbedding
from albench.errors import InvalidSpecError
from albench.learners._features import as_tensor, badge_factors, torch_generator, unit_rows
from albench.learners.base import Learner, LearnerContext


def _uniform(shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    bound = 1.0 / math.sqrt(shape[1])
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


class ClipAdapter(Learner):
    """Residual feature adapter + frozen zero-shot cosine classifier."""

    name: ClassVar[str] = "clip-adapter"
    capabilities: ClassVar[frozenset[str]] = frozenset({PROBABILITIES, GRAD_EMBEDDING, EMBED})

    def __init__(
        self,
        context: LearnerContext,
        *,
        alpha: float = 0.2,
        reduction: int = 4,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        steps: int = 200,
        warm_start: bool = False,
    ):
        if not 0.0 <= alpha <= 1.0 or reduction < 1 or steps < 1 or lr <= 0:
            raise InvalidSpecError(
                "clip-adapter: need 0 <= alpha <= 1, reduction >= 1, steps >= 1, lr > 0"
            )
        super().__init__(
            context,
            alpha=float(alpha),
            reduction=int(reduction),
            lr=float(lr),
            weight_decay=float(weight_decay),
            steps=int(steps),
            warm_start=bool(warm_start),
        )
        self._text = as_tensor(context.text_embeddings, context.device)
        self._layers: tuple[torch.Tensor, torch.Tensor] | None = None

    def _init_layers(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        dim = self._text.shape[1]
        hidden = max(1, dim // self.options["reduction"])
        generator = torch_generator(rng)
        first = _uniform((hidden, dim), generator).to(self.context.device)
        second = _uniform((dim, hidden), generator).to(self.context.device)
        return first, second

    def _adapt(self, x: torch.Tensor, layers: tuple[torch.Tensor, ...] | None) -> torch.Tensor:
        """Normalised adapted feature normalise(f'): the classifier's input."""
        if layers is None:
            return x
        first, second = layers
        adapted = torch.relu(torch.relu(x @ first.T) @ second.T)
        alpha = self.options["alpha"]
        return torch.nn.functional.normalize(alpha * adapted + (1.0 - alpha) * x, dim=1)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return float(self.context.logit_scale) * h @ self._text.T

    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        start = self._layers if self.options["warm_start"] else None
        if len(labels) == 0:
            self._layers = start
            return
        layers = start if start is not None else self._init_layers(rng)
        params = [layer.clone().requires_grad_(True) for layer in layers]
        x = unit_rows(features, self.context.device)
        y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=self.context.device)
        optimiser = torch.optim.AdamW(
            params, lr=self.options["lr"], weight_decay=self.options["weight_decay"]
        )
        for _ in range(self.options["steps"]):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._logits(self._adapt(x, params)), y)
            loss.backward()
            optimiser.step()
        self._layers = (params[0].detach(), params[1].detach())

    def _hidden(self, features: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return self._adapt(unit_rows(features, self.context.device), self._layers)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return torch.softmax(self._logits(self._hidden(features)), dim=1).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        """Factors for the last layer ``V = logit_scale * T`` acting on normalise(f')."""
        h = self._hidden(features)
        return badge_factors(torch.softmax(self._logits(h), dim=1), h)

    def embed(self, features: np.ndarray) -> np.ndarray:
        return self._hidden(features).cpu().numpy()

    def hyperparameters(self) -> dict[str, Any]:
        return {**self.options, "optimizer": "adamw", "logit_scale": self.context.logit_scale}
