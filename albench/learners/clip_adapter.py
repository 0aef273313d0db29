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

``dropout=p > 0`` drops the input of the adapter's MLP branch (a fresh mask per row and step
in training, from the learner's stream), and ``mc_probabilities`` keeps it on for T passes,
one mask per pass shared by every row (:mod:`albench.learners.mc_dropout`). Dropout sits
before the adapter's first layer rather than before the classifier because the classifier
(the text embeddings) is frozen: a mask on a layer's input samples that layer's weights
(Gal & Ghahramani, ICML 2016), which is only a posterior over what was learned when the
layer is trained. With ``alpha=0`` there is no MLP branch, so dropout needs ``alpha > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from albench.capabilities import (
    EMBED,
    GRAD_EMBEDDING,
    MC_PROBABILITIES,
    PROBABILITIES,
    GradEmbedding,
)
from albench.errors import InvalidSpecError
from albench.learners._features import (
    as_tensor,
    badge_factors,
    host_factors,
    torch_generator,
    unit_rows,
)
from albench.learners.adapter import ResidualAdapter
from albench.learners.base import Learner, LearnerContext
from albench.learners.catalog import CLIP_ADAPTER, LearnerInfo
from albench.learners.mc_dropout import InputDropout, check_rate
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
        dropout: float = 0.0,
    ):
        self.check_option_values({"alpha": alpha, "dropout": dropout})
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
            **({"dropout": float(dropout)} if dropout else {}),  # recorded when set
        )
        self._dropout = InputDropout(dropout)
        self._text = as_tensor(context.text_embeddings, context.device)
        self._adapter: ResidualAdapter | None = None

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        check_rate("clip-adapter", options)
        values = {**cls.defaults, **options}
        if values["dropout"] and not values["alpha"]:
            raise InvalidSpecError(
                "clip-adapter: dropout acts on the adapter's input, so it needs alpha > 0"
            )

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
        generator = self._dropout.start_fit(rng) if self._dropout else None
        if adapter.trainable():  # nothing to train at alpha == 0: f' = f
            self._train(adapter, features, labels, rng, generator)
        self._adapter = adapter

    def _train(
        self,
        adapter: ResidualAdapter,
        features: np.ndarray,
        labels: np.ndarray,
        rng: np.random.Generator,
        generator: torch.Generator | None,
    ) -> None:
        """Full-batch AdamW on the cross-entropy of the frozen cosine classifier, with a
        fresh dropout mask every step when ``generator`` is given."""
        device = self.context.device
        x = ViewDraws(features, lambda view: unit_rows(view, device), lambda: torch_generator(rng))
        y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
        optimiser = torch.optim.AdamW(
            adapter.trainable(), lr=self.options["lr"], weight_decay=self.options["weight_decay"]
        )
        for _ in range(self.options["steps"]):
            optimiser.zero_grad()
            rows = x.rows()
            mask = None
            if generator is not None:
                mask = self._dropout.training_masks(tuple(rows.shape), generator).to(rows.device)
            loss = torch.nn.functional.cross_entropy(self._logits(adapter(rows, mask)), y)
            loss.backward()
            optimiser.step()

    def _hidden(self, features: np.ndarray) -> torch.Tensor:
        """The classifier's input: f' of the unit rows, or the unit rows before a fit."""
        with torch.no_grad():
            x = unit_rows(features, self.context.device)
            return x if self._adapter is None else self._adapter(x)

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        return {
            PROBABILITIES: self._device_probabilities,
            GRAD_EMBEDDING: self._device_factors,
            EMBED: self._hidden,
            MC_PROBABILITIES: self._device_mc_probabilities,
        }

    def _device_probabilities(self, features: np.ndarray) -> torch.Tensor:
        return torch.softmax(self._logits(self._hidden(features)), dim=1)

    def _device_factors(self, features: np.ndarray) -> GradEmbedding:
        """Factors for the last layer ``V = logit_scale * T`` acting on f'."""
        h = self._hidden(features)
        return badge_factors(torch.softmax(self._logits(h), dim=1), h)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self._device_probabilities(features).cpu().numpy()

    def _device_mc_probabilities(self, features: np.ndarray, samples: int) -> torch.Tensor:
        if self._adapter is None:
            raise RuntimeError("clip-adapter: MC dropout passes asked for before a fit")
        with torch.no_grad():
            x = unit_rows(features, self.context.device)
            passes = self._dropout.passes(samples, x.shape[1], self.context.device)
            out = [torch.softmax(self._logits(self._adapter(x, m)), dim=1) for m in passes]
        return torch.stack(out, dim=1)

    def mc_probabilities(self, features: np.ndarray, samples: int) -> np.ndarray:
        """(n, samples, C) probabilities of ``samples`` MC-dropout passes; pass t drops the
        same adapter-input coordinates of every row (one sampled first adapter layer)."""
        return self._device_mc_probabilities(features, samples).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        return host_factors(self._device_factors(features))

    def embed(self, features: np.ndarray) -> np.ndarray:
        return self._hidden(features).cpu().numpy()

    def hyperparameters(self) -> dict[str, Any]:
        return {**self.options, "optimizer": "adamw", "logit_scale": self.context.logit_scale}
