"""Dual-prompt tuning: a positive prompt that classifies and a negative prompt that doubts.

Wang, Song, Xia, "Explicit Uncertainty Modeling for Active CLIP Adaptation with Dual Prompt
Tuning" (arXiv 2602.04340, 2026); the mechanism follows DeFT (Wei et al., "Vision-Language
Models are Strong Noisy Label Detectors", NeurIPS 2024).

With adapted image features f' and class text embeddings t+_k (positive context) and t-_k
(negative context), both from the frozen text tower:

    l+_k = s cos(f', t+_k)            l-_k = s cos(stopgrad(f'), t-_k)
    p_yes(x, k) = softmax([stopgrad(l+_k), l-_k])[0] = sigmoid(stopgrad(l+_k) - l-_k)

CE(l+, y) trains the positive context and the adapter; the negative loss trains the negative
context only: ``-log p_no`` at a random complementary label (a class != y, fresh every
step) ``- log p_yes`` at the true class. ``correctness_prob`` is p_yes at the predicted
class (or, with ``uncertainty="atd"``, sum_k p_yes(x, k) softmax(l+)_k).

Options beyond CoOp's (see :mod:`albench.learners.coop`):

* ``negative_init`` "random": the negative context starts from an independent N(0, 0.02^2)
  draw even when ``init`` is a phrase, as DeFT's two contexts do; "positive" starts it from
  the positive context's words (then p_yes = 0.5 everywhere at step 0).
* ``adapter_alpha`` 0.2: a CLIP-Adapter (Gao et al., IJCV 2023) on the cached image
  features. The paper adapts the image side with visual prompt tuning instead (``n_vpt``,
  below); the adapter is albench's surrogate for it, which needs no image tower.
* ``negative_weight`` 1.0: weight of the negative loss (DeFT sums the terms unweighted).
  It only matters with SGD: the negative loss alone reaches the negative context, and an
  Adam(W) step does not depend on the scale of a parameter's gradient.
* ``warmup_steps`` / ``clean_filter``: DeFT's refinement: after warm-up, samples with
  p_yes(x, y) <= 0.5 are dropped from the CE term (off by default: labels are clean in AL).
* ``negative_target="correctness"``: the second reading: the negative loss is a binary
  cross-entropy at each sample's out-of-fold predicted class with target 1[y_hat = y], so
  the negative prompt learns from the positive prompt's real mistakes (``folds`` folds; costs
  ``folds`` extra positive-only fits per round).
* ``n_vpt`` / ``vpt_deep`` / ``vpt_lr``: visual prompt tuning in place of cached image
  features (see :mod:`albench.learners.coop` and :mod:`albench.learners.visual_prompts`);
  off by default, refused without an accelerator unless ``vpt_allow_cpu``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from albench.capabilities import CORRECTNESS_PROB
from albench.learners.catalog import COOP, DUAL_PROMPT, LearnerInfo
from albench.learners.coop import CoOpLearner, ImageSide
from albench.learners.prompt_encoder import PromptTextEncoder


def dual_logits(
    encoder: PromptTextEncoder,
    adapter: ImageSide,
    features: torch.Tensor,
    logit_scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative logits (N, C); the negative branch sees detached features."""
    text = encoder()
    adapted = adapter(features)
    positive = logit_scale * adapted @ text[0].T
    negative = logit_scale * adapted.detach() @ text[1].T
    return positive, negative


def yes_logit(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """log p_yes - log p_no = stopgrad(l+) - l-; p_yes = sigmoid of it."""
    return positive.detach() - negative


def complementary_labels(labels: torch.Tensor, n_classes: int, generator: torch.Generator):
    """A uniformly random class != label for each sample."""
    shift = torch.randint(1, n_classes, labels.shape, generator=generator)
    return (labels + shift.to(labels.device)) % n_classes


def negative_loss(
    positive: torch.Tensor,
    negative: torch.Tensor,
    labels: torch.Tensor,
    complementary: torch.Tensor,
) -> torch.Tensor:
    """DeFT's negative loss: -log p_no(x, complementary) - log p_yes(x, y), batch mean."""
    z = yes_logit(positive, negative)
    at_true = z.gather(1, labels[:, None]).squeeze(1)
    at_other = z.gather(1, complementary[:, None]).squeeze(1)
    return -(F.logsigmoid(-at_other) + F.logsigmoid(at_true)).mean()


def correctness_loss(
    positive: torch.Tensor, negative: torch.Tensor, predicted: torch.Tensor, correct: torch.Tensor
) -> torch.Tensor:
    """Binary cross-entropy of p_yes at ``predicted`` against ``correct`` (0/1 floats)."""
    z = yes_logit(positive, negative).gather(1, predicted[:, None]).squeeze(1)
    return F.binary_cross_entropy_with_logits(z, correct)


def clean_weights(positive: torch.Tensor, negative: torch.Tensor, labels: torch.Tensor):
    """DeFT's sample filter: 1 where p_yes(x, y) > 0.5, else 0 (no gradient)."""
    z = yes_logit(positive, negative).detach().gather(1, labels[:, None]).squeeze(1)
    return (z > 0).to(positive.dtype)


class DualPromptLearner(CoOpLearner):
    """Positive + negative prompt; exposes ``correctness_prob``."""

    info: ClassVar[LearnerInfo] = DUAL_PROMPT
    n_prompts: ClassVar[int] = 2

    def __init__(self, context, **options: Any):
        super().__init__(context, **options)
        self._oof: tuple[torch.Tensor, torch.Tensor] | None = None

    def phrase_prompts(self) -> int:
        """The positive context only, unless ``negative_init="positive"`` (the behaviour of
        albench before the negative context was drawn independently)."""
        return 2 if self.options["negative_init"] == "positive" else 1

    def loss(self, encoder, adapter, features, labels, index, generator, step):
        """CE on the positive logits + weighted negative loss (disjoint parameters)."""
        o = self.options
        positive, negative = dual_logits(encoder, adapter, features, self.context.logit_scale)
        ce = F.cross_entropy(positive, labels, reduction="none")
        if o["clean_filter"] and step >= o["warmup_steps"]:
            weights = clean_weights(positive, negative, labels)
            ce = (ce * weights).sum() / weights.sum().clamp(min=1)
        else:
            ce = ce.mean()
        if o["negative_target"] == "correctness":
            assert self._oof is not None
            predicted, correct = self._oof[0][index], self._oof[1][index]
            neg = correctness_loss(positive, negative, predicted, correct)
        else:
            others = complementary_labels(labels, positive.shape[1], generator)
            neg = negative_loss(positive, negative, labels, others)
        return ce + o["negative_weight"] * neg

    def train(self, features, labels, generator):
        if self.options["negative_target"] != "correctness":
            return super().train(features, labels, generator)
        predicted = self._out_of_fold(features, labels, generator)
        correct = (predicted == torch.as_tensor(labels)).float()
        self._oof = (predicted.to(self.device), correct.to(self.device))
        return super().train(features, labels, generator)

    def _out_of_fold(self, features, labels, generator) -> torch.Tensor:
        """Predictions of positive-only models on the fold each did not see."""
        n = len(labels)
        n_folds = min(self.options["folds"], n)
        if n_folds < 2:
            return torch.as_tensor(labels, dtype=torch.long)
        folds = torch.randperm(n, generator=generator).remainder(n_folds)
        predicted = torch.empty(n, dtype=torch.long)
        coop = CoOpLearner(self.context, **_coop_options(self.options))
        for fold in range(n_folds):
            held = (folds == fold).numpy()
            encoder, adapter = coop.train(features[~held], labels[~held], generator)
            with torch.no_grad():
                text = encoder()[0]
                x = coop.encode(adapter, features[held])
                predicted[torch.from_numpy(held)] = (x @ text.T).argmax(1).cpu()
        return predicted

    # --- inference -----------------------------------------------------------------------
    def yes_probabilities(self, features: np.ndarray) -> torch.Tensor:
        """(N, C) p_yes(x, k) for every class."""
        positive, negative = self.logits(features)
        return torch.sigmoid(yes_logit(positive, negative))

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        return {**super().device_outputs(), CORRECTNESS_PROB: self._device_correctness}

    def _device_correctness(self, features: Any) -> torch.Tensor:
        positive = self.logits(features)[0]
        p_yes = self.yes_probabilities(features)
        if self.options["uncertainty"] == "atd":
            return (p_yes * torch.softmax(positive, dim=1)).sum(1)
        return p_yes.gather(1, positive.argmax(1, keepdim=True)).squeeze(1)

    def correctness_prob(self, features: np.ndarray) -> np.ndarray:
        """u(x): p_yes at the predicted class, or its expectation under softmax(l+) (ATD)."""
        return self._device_correctness(features).cpu().numpy()


def _coop_options(options: dict[str, Any]) -> dict[str, Any]:
    return {key: options[key] for key in COOP.options}
