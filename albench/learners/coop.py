"""CoOp: learnable context vectors in CLIP's text branch, trained on cached image features.

Zhou et al., "Learning to Prompt for Vision-Language Models" (IJCV 2022). The class
classifier is the matrix of class text embeddings produced by :class:`PromptTextEncoder`;
image features may pass through CLIP-Adapter's residual adapter
(:mod:`albench.learners.adapter`), off by default here and on in dual-prompt tuning, which
subclasses this learner.

Defaults and their sources (also in ``docs/protocol.md``):

* n_ctx 16, init N(0, 0.02^2), shared context, batch 32, SGD lr 0.002 with momentum 0.9,
  weight decay 5e-4, cosine schedule: CoOp.
* steps: CoOp trains 50 epochs at 1 shot and 200 at 8-16 shots, i.e. 50 to ~1000 steps on a
  10-class task. Active learning refits every round, so each round gets a fixed budget of
  200 steps whatever the labelled-set size (cheap on CPU, equal across rounds);
  ``epochs=`` trains by passes over the labelled set instead, as CoOp and PCB do, with an
  optional constant-rate warm-up (:mod:`albench.learners.schedule`).
* adapter: bottleneck 4 and residual ratio 0.2 (CLIP-Adapter's ImageNet setting).
* ``n_vpt`` > 0 adds visual prompt tuning (:mod:`albench.learners.visual_prompts`): the
  image side becomes pixels -> prompted image tower -> adapter, the learner takes
  :class:`~albench.learners.images.ImageRows` instead of feature arrays, and it needs an
  accelerator. Learner outputs (probabilities, correctness, BADGE's gradient embeddings,
  ``embed``) then come from the prompted tower, but strategies that read the pool's image
  features (``image_features``: coreset, ProbCover, TypiClust, and the zero-shot k-means
  initial set) still see the cached, unprompted ones.
* views: with several cached views per image (``--views``, :mod:`albench.learners.views`),
  each time a mini-batch visits a sample one of its views is drawn, from a generator forked
  from the fit's: once per epoch, as CoOp's data loader crops each image afresh every epoch
  (with ``steps=`` the batches walk through permutations of the labelled set too, so again
  once per pass). The pixel path (``n_vpt``) trains on the plain preprocessed images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeAlias

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from albench.capabilities import EMBED, GRAD_EMBEDDING, PROBABILITIES, GradEmbedding
from albench.errors import InvalidSpecError
from albench.learners._features import badge_factors, fork, host_factors
from albench.learners.adapter import ResidualAdapter
from albench.learners.base import Learner, LearnerContext
from albench.learners.catalog import COOP, LearnerInfo
from albench.learners.images import ImageRows
from albench.learners.prompt_encoder import PromptTextEncoder, context_length
from albench.learners.schedule import Schedule, check_schedule_options
from albench.learners.views import ViewDraws
from albench.learners.visual_prompts import ENCODE_BATCH, VisualPrompts, check_vpt_options
from albench.options import check_values
from albench.seeding import torch_seed


class PromptedAdapter(nn.Module):
    """The image side with VPT: pixels -> prompted image tower -> residual adapter."""

    def __init__(self, visual: VisualPrompts, adapter: ResidualAdapter):
        super().__init__()
        self.visual = visual
        self.adapter = adapter

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.visual(pixels))


#: what maps a learner's inputs (cached features, or pixels with VPT) to f'
ImageSide: TypeAlias = ResidualAdapter | PromptedAdapter


def batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator:
    """``steps`` mini-batches drawn epoch by epoch from fresh permutations of ``range(n)``."""
    order = torch.empty(0, dtype=torch.long, device=generator.device)  # where its draws are
    for _ in range(steps):
        while order.numel() < min(batch_size, n):
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        yield order[: min(batch_size, n)]
        order = order[min(batch_size, n) :]


class CoOpLearner(Learner):
    """Positive prompt only; probabilities, BADGE gradient embeddings and embeddings."""

    info: ClassVar[LearnerInfo] = COOP
    #: number of learnable contexts (1: positive; dual-prompt adds the negative)
    n_prompts: ClassVar[int] = 1

    def __init__(self, context: LearnerContext, **options: Any):
        check_values(f"learner {self.name!r}", options, self.info.options)
        if context.backbone is None:
            raise InvalidSpecError(f"learner {self.name!r} needs the backbone's text tower")
        options = {**self.defaults, **options}
        self.needs_images = self.check_pixel_path(options, context.device)
        self.resolve_options(options, context)
        super().__init__(context, **options)
        self.device = torch.device(context.device)
        if self.needs_images:
            self._vision = context.backbone.vision_tower
            self._transform = context.backbone.transform()
        self._text: torch.Tensor | None = None
        self._adapter: ImageSide | None = None
        self._model: tuple[PromptTextEncoder, ImageSide] | None = None
        self._encoded: tuple[ImageRows, torch.Tensor] | None = None

    @staticmethod
    def resolve_options(options: dict[str, Any], context: LearnerContext) -> None:
        """Fill the options that depend on others: ``n_ctx`` from an ``init`` phrase, and
        ``vpt_lr`` from ``lr``."""
        tower = context.backbone.text_tower
        options["n_ctx"] = context_length(tower, options["n_ctx"], options["init"])
        if options["vpt_lr"] is None:
            options["vpt_lr"] = options["lr"]

    @classmethod
    def check_pixel_path(cls, options: Mapping[str, Any], device: str) -> bool:
        """Whether the learner trains on images (``n_vpt``), refused where it cannot run."""
        check_vpt_options(cls.name, options, device)
        return bool(options["n_vpt"])

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        check_vpt_options(cls.name, options, None)
        check_schedule_options(options)

    # --- model -------------------------------------------------------------------------
    def build(self, generator: torch.Generator) -> tuple[PromptTextEncoder, ImageSide]:
        """A freshly initialised prompt encoder and image side (re-initialised every round)."""
        o = self.options
        encoder = PromptTextEncoder(
            self.context.backbone.text_tower,
            self.context.class_names,
            o["n_ctx"],
            class_specific=o["class_specific"],
            init=o["init"],
            generator=generator,
            n_prompts=self.n_prompts,
            phrase_prompts=self.phrase_prompts(),
        )
        dim = int(self.context.text_embeddings.shape[1])
        adapter: ImageSide
        adapter = ResidualAdapter(dim, o["adapter_alpha"], o["adapter_reduction"], generator)
        if o["n_vpt"]:
            deep = o["vpt_deep"]
            visual = VisualPrompts(self._vision, o["n_vpt"], deep=deep, generator=generator)
            adapter = PromptedAdapter(visual, adapter)
        return encoder.to(self.device), adapter.to(self.device)

    def phrase_prompts(self) -> int:
        """How many contexts start from an ``init`` phrase (the others start random)."""
        return self.n_prompts

    def _param_groups(self, encoder: PromptTextEncoder, adapter: ImageSide) -> list[dict]:
        """The text context and the adapter at ``lr``; visual prompts at ``vpt_lr``."""
        if isinstance(adapter, PromptedAdapter):
            visual = {"params": [adapter.visual.prompts], "lr": self.options["vpt_lr"]}
            return [{"params": [encoder.ctx, *adapter.adapter.trainable()]}, visual]
        return [{"params": [encoder.ctx, *adapter.trainable()]}]

    def _optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        o = self.options
        if o["optimizer"] == "sgd":
            return torch.optim.SGD(
                groups, lr=o["lr"], momentum=o["momentum"], weight_decay=o["weight_decay"]
            )
        if o["optimizer"] == "adamw":
            return torch.optim.AdamW(groups, lr=o["lr"], weight_decay=o["weight_decay"])
        raise InvalidSpecError(f"unknown optimizer {o['optimizer']!r}; known: sgd, adamw")

    def _rows(self, inputs: Any) -> ImageRows:
        if not isinstance(inputs, ImageRows):
            raise TypeError(f"learner {self.name!r} with n_vpt trains on ImageRows, not arrays")
        return inputs

    def _training_inputs(self, inputs: Any) -> torch.Tensor:
        """What training batches are cut from: the cached features or, with VPT, the
        preprocessed labelled images (decoded once per fit; the labelled set is small)."""
        if self.needs_images:
            return self._rows(inputs).pixels(self._transform).to(self.device)
        if isinstance(inputs, torch.Tensor):  # a GPU run's pool rows, already there
            return inputs.to(device=self.device, dtype=torch.float32)
        return torch.as_tensor(np.asarray(inputs, dtype=np.float32), device=self.device)

    @torch.no_grad()
    def encode(self, adapter: ImageSide, inputs: Any) -> torch.Tensor:
        """f' of ``inputs`` (features, or with VPT images, ENCODE_BATCH at a time)."""
        if not self.needs_images:
            return adapter(self._training_inputs(inputs))
        batches = self._rows(inputs).batches(self._transform, ENCODE_BATCH)
        parts = [adapter(pixels.to(self.device)) for pixels in batches]
        dim = int(self.context.text_embeddings.shape[1])
        return torch.cat(parts) if parts else torch.zeros((0, dim), device=self.device)

    def loss(
        self,
        encoder: PromptTextEncoder,
        adapter: ImageSide,
        features: torch.Tensor,
        labels: torch.Tensor,
        index: torch.Tensor,
        generator: torch.Generator,
        step: int,
    ) -> torch.Tensor:
        """Cross-entropy of the positive logits (CoOp) on one batch.

        ``features``: the batch's cached features, or its pixels with VPT. ``index``:
        positions of the batch in the training set; ``step``: the step number.
        """
        text = encoder()[0]
        logits = self.context.logit_scale * adapter(features) @ text.T
        return F.cross_entropy(logits, labels)

    def train(
        self, features: Any, labels: np.ndarray, generator: torch.Generator
    ) -> tuple[PromptTextEncoder, ImageSide]:
        """Fit a fresh model (or, with ``warm_start``, the last one) for ``steps`` mini-batch
        steps or ``epochs`` passes under a cosine schedule (:mod:`albench.learners.schedule`)."""
        o = self.options
        if o["warm_start"] and self._model is not None:
            encoder, adapter = self._model
        else:
            encoder, adapter = self.build(generator)
        optimizer = self._optimizer(self._param_groups(encoder, adapter))
        plan = Schedule.of(o, len(labels))
        schedule = plan.scheduler(optimizer)
        x = ViewDraws(features, self._training_inputs, lambda: fork(generator))
        y = torch.as_tensor(labels, dtype=torch.long, device=self.device)
        for step, batch in enumerate(batch_indices(len(y), o["batch_size"], plan.steps, generator)):
            optimizer.zero_grad(set_to_none=True)
            self.loss(encoder, adapter, x.rows(batch), y[batch], batch, generator, step).backward()
            optimizer.step()
            schedule.step()
        return encoder, adapter

    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        if len(labels) == 0:
            raise InvalidSpecError(f"learner {self.name!r} needs at least one labelled sample")
        generator = torch.Generator().manual_seed(torch_seed(rng))
        self._encoded = None
        encoder, adapter = self.train(features, labels, generator)
        self._model = (encoder, adapter)
        with torch.no_grad():
            self._text = encoder().detach()
        self._adapter = adapter.eval()

    # --- inference -----------------------------------------------------------------------
    def _fitted(self) -> tuple[torch.Tensor, ImageSide]:
        if self._text is None or self._adapter is None:
            raise RuntimeError(f"learner {self.name!r} is not fitted")
        return self._text, self._adapter

    def _adapted(self, features: Any) -> torch.Tensor:
        """f' of ``features`` under the fitted model.

        With VPT the last rows encoded are kept until the next fit: a strategy asks for
        probabilities, correctness and gradient embeddings of the same pool rows, and each
        would otherwise run the image encoder over the whole pool again.
        """
        _, adapter = self._fitted()
        if not self.needs_images:
            return self.encode(adapter, features)
        if self._encoded is None or self._encoded[0] is not features:
            self._encoded = (features, self.encode(adapter, features))
        return self._encoded[1]

    @torch.no_grad()
    def logits(self, features: np.ndarray) -> torch.Tensor:
        """(G, N, C) logits of each context (positive first)."""
        text, _ = self._fitted()
        return self.context.logit_scale * torch.einsum("nd,gcd->gnc", self._adapted(features), text)

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        return {
            PROBABILITIES: self._device_probabilities,
            GRAD_EMBEDDING: self._device_factors,
            EMBED: self._adapted,
        }

    def _device_probabilities(self, features: Any) -> torch.Tensor:
        return torch.softmax(self.logits(features)[0], dim=-1)

    def _device_factors(self, features: Any) -> GradEmbedding:
        """BADGE factors for the last layer, the class text matrix: x = s * f'."""
        probs = self._device_probabilities(features)
        return badge_factors(probs, self.context.logit_scale * self._adapted(features))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self._device_probabilities(features).cpu().numpy()

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised image features (the classifier's input)."""
        return self._adapted(features).cpu().numpy()

    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        return host_factors(self._device_factors(features))
