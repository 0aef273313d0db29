"""Zero-shot CLIP: classify by cosine similarity to the class text embeddings.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021: ``logits = logit_scale * f @ T.T`` with L2-normalised image features ``f`` and the
prompt-ensembled class embeddings ``T``. Nothing is trained, so ``fit`` is a no-op; the
learner is the reference every adaptation paradigm should beat and the model a run uses
before any label exists.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from albench.capabilities import LinearHead
from albench.learners._features import LinearHeadOutputs, as_tensor
from albench.learners.base import Learner, LearnerContext
from albench.learners.catalog import ZERO_SHOT, LearnerInfo


class ZeroShot(LinearHeadOutputs, Learner):
    """The text embeddings as a fixed linear classifier.

    Its last layer is ``W = logit_scale * T`` applied to the normalised image feature, so
    gradient embeddings and ``embed`` are defined as for a linear probe.
    """

    info: ClassVar[LearnerInfo] = ZERO_SHOT

    def __init__(self, context: LearnerContext, *, warm_start: bool = False):
        """``warm_start`` is accepted for a uniform learner interface; nothing is trained."""
        super().__init__(context, warm_start=warm_start)
        self._weights = float(context.logit_scale) * as_tensor(
            context.text_embeddings, context.device
        )

    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        """Nothing to fit: the classifier is the text tower's."""

    def _probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x @ self._weights.T, dim=1)

    def linear_head(self, features: np.ndarray) -> LinearHead:
        """``logit_scale * T`` and a zero bias (the same for every row of ``features``)."""
        weight = self._weights.cpu().numpy().copy()
        return LinearHead(weight, np.zeros(weight.shape[0], dtype=weight.dtype))

    def hyperparameters(self) -> dict[str, Any]:
        return {"logit_scale": float(self.context.logit_scale), **self.options}
