"""Linear probe on frozen CLIP image features.

The recipe follows the linear-classifier protocol that Gupte et al. ("Revisiting Active
Learning in the Era of Vision Foundation Models", TMLR 2024) use for AL on frozen foundation
model embeddings, with the choices below made explicit:

* features are L2-normalised (CLIP's own geometry);
* the weights start from the zero-shot classifier ``logit_scale * T`` with zero bias
  (``init="text"``, default) or from small Gaussian weights (``init="random"``, std 0.01);
* the objective is convex: mean cross-entropy plus an L2 penalty
  ``weight_decay / 2 * (||W - W_0||^2 + ||b||^2)``, where ``W_0`` is the zero-shot weight
  matrix for text initialisation (the L2-SP penalty of Li et al., ICML 2018, which keeps a
  few-shot probe near the zero-shot solution) and 0 for random initialisation (plain weight
  decay);
* it is minimised full-batch with L-BFGS (strong Wolfe line search). With a unique optimum
  there is no learning rate, schedule or batch order to tune, and warm starting mainly
  changes how fast the optimum is reached (up to the ``max_iter`` cut-off).

With ``dropout=p > 0`` the objective becomes the expected loss under dropout of the
probe's input (Srivastava et al., JMLR 2014), as MC dropout trains it (Gal & Ghahramani,
ICML 2016), estimated on ``DROPOUT_COPIES`` fixed masked copies of the labelled set drawn
from the learner's stream: a sample average, so the objective stays deterministic and
convex and L-BFGS's line search stays valid (a fresh mask per evaluation would break it).
Prediction is the plain probe (inverted dropout needs no rescaling); ``mc_probabilities``
gives T passes, each with one input mask for every row (:mod:`albench.learners.mc_dropout`).

Defaults: ``weight_decay=1e-4``, ``max_iter=200``. On fashion-mnist-mini with the offline
backbone (1-16 labels per class, 3 seeds, text and random init) 1e-4 came within 1.1 points
of the best of {1e-5, 1e-4, 1e-3, 1e-2} at every budget, while 1e-2 pins the probe near its
initialisation. Fitted from scratch every round unless ``warm_start=True``,
which starts L-BFGS from the previous round's weights.

With several cached views per image (``--views``, :mod:`albench.learners.views`) the
objective is the mean loss over every view of every labelled sample. The learners trained
by gradient steps draw one view per sample per epoch instead; their loss is an unbiased
estimate of this mean, which L-BFGS needs exactly: its line search assumes one fixed
objective.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from albench.capabilities import MC_PROBABILITIES, LinearHead
from albench.errors import InvalidSpecError
from albench.learners._features import LinearHeadOutputs, as_tensor, torch_generator, unit_rows
from albench.learners.base import Learner, LearnerContext
from albench.learners.catalog import LINEAR, LearnerInfo
from albench.learners.mc_dropout import InputDropout, check_rate
from albench.learners.views import all_views

INITS = ("text", "random")
RANDOM_INIT_STD = 0.01
#: masked copies of the labelled set that estimate the expected loss under dropout
DROPOUT_COPIES = 16


class LinearProbe(LinearHeadOutputs, Learner):
    """Multinomial logistic regression ``softmax(x @ W.T + b)`` on normalised features."""

    info: ClassVar[LearnerInfo] = LINEAR

    def __init__(
        self,
        context: LearnerContext,
        *,
        init: str = "text",
        weight_decay: float = 1e-4,
        max_iter: int = 200,
        warm_start: bool = False,
        dropout: float = 0.0,
    ):
        check_rate("linear", {"dropout": dropout})
        if init not in INITS:
            raise InvalidSpecError(f"linear: init must be one of {INITS}, got {init!r}")
        if weight_decay < 0 or max_iter < 1:
            raise InvalidSpecError("linear: weight_decay must be >= 0 and max_iter >= 1")
        super().__init__(
            context,
            init=init,
            weight_decay=float(weight_decay),
            max_iter=int(max_iter),
            warm_start=bool(warm_start),
            **({"dropout": float(dropout)} if dropout else {}),  # recorded when set
        )
        self._dropout = InputDropout(dropout)
        text = as_tensor(context.text_embeddings, context.device)
        self._text_weights = float(context.logit_scale) * text
        self._weight: torch.Tensor | None = None
        self._bias: torch.Tensor | None = None
        if init == "text":
            self._reset(None)

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        check_rate("linear", options)

    def _reset(self, rng: np.random.Generator | None) -> None:
        """Initial parameters: zero-shot weights, or Gaussian weights drawn from ``rng``."""
        n_classes = self._text_weights.shape[0]
        if self.options["init"] == "text":
            self._weight = self._text_weights.clone()
        else:
            assert rng is not None
            noise = torch.randn(self._text_weights.shape, generator=torch_generator(rng))
            self._weight = (RANDOM_INIT_STD * noise).to(self.context.device)
        self._bias = torch.zeros(n_classes, device=self.context.device)

    def _anchor(self) -> torch.Tensor:
        if self.options["init"] == "text":
            return self._text_weights
        return torch.zeros_like(self._text_weights)

    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        if not (self.options["warm_start"] and self._weight is not None):
            self._reset(rng)
        generator = self._dropout.start_fit(rng) if self._dropout else None
        if len(labels) == 0:
            return
        views = all_views(features)
        x = torch.cat([unit_rows(view, self.context.device) for view in views])
        y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=self.context.device)
        y = y.repeat(len(views))
        if generator is not None:
            x, y = self._masked_copies(x, y, generator)
        weight = self._weight.clone().requires_grad_(True)
        bias = self._bias.clone().requires_grad_(True)
        anchor, decay = self._anchor(), self.options["weight_decay"]
        optimiser = torch.optim.LBFGS(
            [weight, bias],
            lr=1.0,
            max_iter=self.options["max_iter"],
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y)
            penalty = (weight - anchor).pow(2).sum() + bias.pow(2).sum()
            loss = loss + 0.5 * decay * penalty
            loss.backward()
            return loss

        optimiser.step(closure)
        self._weight, self._bias = weight.detach(), bias.detach()

    def _masked_copies(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``DROPOUT_COPIES`` copies of the labelled rows, each with its own dropout masks."""
        shape = (DROPOUT_COPIES, *x.shape)
        masked = x[None] * self._dropout.training_masks(shape, generator).to(x.device)
        return masked.reshape(-1, x.shape[1]), y.repeat(DROPOUT_COPIES)

    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        if self._weight is None:
            raise RuntimeError("linear probe with random init used before fit")
        return torch.softmax(x @ self._weight.T + self._bias, dim=1)

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        return {**super().device_outputs(), MC_PROBABILITIES: self._device_mc_probabilities}

    def _device_mc_probabilities(self, features: np.ndarray, samples: int) -> torch.Tensor:
        if self._weight is None:
            raise RuntimeError("linear probe with random init used before fit")
        x = unit_rows(features, self.context.device)
        passes = self._dropout.passes(samples, x.shape[1], self.context.device)
        out = [torch.softmax(x @ (self._weight * m).T + self._bias, dim=1) for m in passes]
        return torch.stack(out, dim=1)

    def mc_probabilities(self, features: np.ndarray, samples: int) -> np.ndarray:
        """(n, samples, C) probabilities of ``samples`` MC-dropout passes; pass t drops the
        same input coordinates of every row (one sampled weight matrix, W diag(mask_t))."""
        return self._device_mc_probabilities(features, samples).cpu().numpy()

    def linear_head(self, features: np.ndarray) -> LinearHead:
        """``W`` and ``b`` of ``softmax(x @ W.T + b)`` (the same for every row of ``features``)."""
        if self._weight is None or self._bias is None:
            raise RuntimeError("linear probe with random init used before fit")
        return LinearHead(self._weight.cpu().numpy().copy(), self._bias.cpu().numpy().copy())

    def hyperparameters(self) -> dict[str, Any]:
        return {**self.options, "optimizer": "lbfgs", "logit_scale": self.context.logit_scale}
