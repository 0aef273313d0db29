"""CLIP-Adapter: a residual bottleneck MLP on the image features, cosine classifier on text.

Gao et al., "CLIP-Adapter: Better Vision-Language Models with Feature Adapters", IJCV 2023
(arXiv 2110.04544), visual-adapter variant: the adapted feature f' of
:class:`~albench.learners.adapter.ResidualAdapter` is classified by

    logits = logit_scale * f' @ T.T

with the text embeddings ``T`` frozen. Defaults follow the paper: ``reduction=4``,
``alpha=0.2``. Training is full-batch on the labelled features (a few hundred at most) with
AdamW (``lr=1e-3``, ``weight_decay=1e-2``, ``steps=200``); the adapter's layers are drawn
from a generator seeded by the run's learner stream. Before anything is fitted (no labels
yet) the adapter is off and the learner is exactly zero-shot CLIP.

With several cached views per image (``--views``, :mod:`albench.learners.views`) every step
sees one view of each labelled sample, drawn afresh per step: a full-batch step is a pass
over the labelled set, so this is CoOp's fresh crop per epoch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from albench.capabilities import GradEmbedding
from albench.errors import InvalidSpecError
from albench.learners._features import as_tensor, badge_factors, torch_generator, unit_rows
from albench.learners.adapter import ResidualAdapter
from albench.learners.base import Learner, LearnerContext
from albench.learners.catalog import CLIP_ADAPTER, LearnerInfo
from albench.learners.views import ViewDraws


class ClipAdapter(Learner):
    """Residual feature adapter + frozen zero-shot cosine classifier."""

    info: ClassVar[LearnerInfo] = CLIP_ADAPTER

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
        self._adapter: ResidualAdapter | None = None

    def _new_adapter(self, rng: np.random.Generator) -> ResidualAdapter:
        o = self.options
        dim = int(self._text.shape[1])
        adapter = ResidualAdapter(dim, o["alpha"], o["reduction"], torch_generator(rng))
        return adapter.to(self.context.device)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return float(self.context.logit_scale) * h @ self._text.T

    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        start = self._adapter if self.options["warm_start"] else None
        if len(labels) == 0:
            self._adapter = start
            return
        adapter = start if start is not None else self._new_adapter(rng)
        if adapter.trainable():  # nothing to train at alpha == 0: f' = f
            self._train(adapter, features, labels, rng)
        self._adapter = adapter

    def _train(
        self,
        adapter: ResidualAdapter,
        features: np.ndarray,
        labels: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Full-batch AdamW on the cross-entropy of the frozen cosine classifier."""
        device = self.context.device
        x = ViewDraws(features, lambda view: unit_rows(view, device), lambda: torch_generator(rng))
        y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
        optimiser = torch.optim.AdamW(
            adapter.trainable(), lr=self.options["lr"], weight_decay=self.options["weight_decay"]
        )
        for _ in range(self.options["steps"]):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._logits(adapter(x.rows())), y)
            loss.backward()
            optimiser.step()

    def _hidden(self, features: np.ndarray) -> torch.Tensor:
        """The classifier's input: f' of the unit rows, or the unit rows before a fit."""
        with torch.no_grad():
            x = unit_rows(features, self.context.device)
            return x if self._adapter is None else self._adapter(x)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return torch.softmax(self._logits(self._hidden(features)), dim=1).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        """Factors for the last layer ``V = logit_scale * T`` acting on f'."""
        h = self._hidden(features)
        return badge_factors(torch.softmax(self._logits(h), dim=1), h)

    def embed(self, features: np.ndarray) -> np.ndarray:
        return self._hidden(features).cpu().numpy()

    def hyperparameters(self) -> dict[str, Any]:
        return {**self.options, "optimizer": "adamw", "logit_scale": self.context.logit_scale}
