"""MaPLe: learnable prompts in both CLIP towers, the vision prompts made from the text prompts.

Khattak, Rasheed, Maaz, Khan & Khan, "MaPLe: Multi-modal Prompt Learning", CVPR 2023;
reference code github.com/muzairkhattak/multimodal-prompt-learning (``trainers/maple.py``,
``clip/model.py``), defaults from its ``configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml``
(catalog entry :data:`~albench.learners.catalog.MAPLE`). The parts and their sources:

* Text prompt (paper Sec. 3.2.1, deep language prompting; the reference's
  ``MultiModalPromptLearner``): class k is encoded from ``[SOS] P_0 <rest of init> <class
  name>. [EOT]``. The words of ``init`` ("a photo of a") start every prompt; the token
  embeddings of their first m = ``n_ctx`` words (2: "a photo") are the learnable context P_0,
  shared by all classes, and the other words stay fixed. Before text blocks i = 1 .. J - 1
  (J = ``prompt_depth``, 9) the block's input at the m context positions is replaced by
  learnable tokens P_i (drawn from N(0, 0.02^2)); blocks from J on keep what block J - 1 made
  of them (:meth:`~albench.backbones.base.TextTower.encode_embeddings_deep`).
* Vision prompts (Sec. 3.2.2 and 3.2.3, vision-language prompt coupling): the m vision
  prompts of block i are F_i(P_i), a linear map from the text width to the vision width, one
  per block (the reference's ``proj`` for block 0 and ``compound_prompt_projections`` for the
  others), so that gradients reach the text prompts through both towers. They join the image
  tokens without positional embedding before block 0 (through ``ln_pre``, as the reference
  appends them before ``ln_pre``) and replace the previous block's prompt outputs before
  blocks 1 .. J - 1 (:meth:`~albench.backbones.base.VisionTower.encode_prompted`); their
  outputs are dropped before pooling.
* Initialisation: the coupling maps as ``torch.nn.Linear``'s default, weights and biases
  uniform in +-1/sqrt(text width); the J - 1 deep maps start as copies of one draw (the
  reference clones one layer). Every draw comes from the run's seeded generator.
* Training: cross-entropy of s cos(f(x), t_k) on the labelled images; only P_0, P_i and F_i
  train, both towers stay frozen. SGD, lr 0.0035, batch 4, 5 epochs with one constant warm-up
  epoch at 1e-5 then cosine, as the config (Dassl's momentum 0.9 and weight decay 5e-4);
  ``epochs=None`` trains by ``steps`` instead (:mod:`albench.learners.schedule`).

Like ``vpt`` it runs the image tower at every step, so it is refused without an accelerator
unless ``vpt_allow_cpu`` (tests), and towers it cannot prompt (the offline backbone, open_clip
ResNets) are refused by name. Outputs (probabilities, ``embed``, BADGE's gradient embeddings)
come from the prompted towers; strategies reading ``image_features`` see the cached ones.

Differences from the reference:

* fp32 throughout; the config trains in fp16 (``PREC: "fp16"``).
* No augmentation: training images get the backbone's eval transform; the config uses random
  resized crops and flips.
* The vision prompts sit after the class token instead of at the end of the sequence; the
  vision tower has no attention mask and the prompts no position, so the outputs are equal.
* Prompts are cut at the longest real prompt instead of 77 tokens (exact: the text tower is
  causal and pools the end-of-text token).
* ``n_ctx`` larger than the words of ``init`` is refused; the reference starts from random
  vectors when ``n_ctx`` > 4 whatever ``init`` says, and for ``n_ctx`` between the phrase's
  length and 4 reads the end-of-text and padding embeddings as context.
* ``prompt_depth`` must fit both towers (the reference assumes 12-block towers).
* Active learning refits from a fresh draw every round (unless ``warm_start``); the reference
  trains once on a fixed few-shot set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from albench.backbones.base import TextTower, VisionTower
from albench.errors import InvalidSpecError
from albench.learners.base import LearnerContext
from albench.learners.catalog import MAPLE, LearnerInfo
from albench.learners.coop import CoOpLearner
from albench.learners.prompt_encoder import INIT_STD, PLACEHOLDER, PromptTextEncoder
from albench.learners.schedule import check_schedule_options
from albench.learners.visual_prompts import require_accelerator


def check_context(tower: TextTower, n_ctx: int, init: str) -> None:
    """Refuse more learnable tokens than the words of ``init`` give (unless random)."""
    if init == "random":
        return
    words = int(tower.tokenize([init]).lengths[0]) - 2
    if n_ctx > words:
        raise InvalidSpecError(
            f"n_ctx={n_ctx} learnable tokens, but init {init!r} has only {words}; use a "
            "longer phrase or init='random'"
        )


class MultiModalPrompts(nn.Module):
    """The learnable part of MaPLe: text context, deep text prompts and coupling maps.

    ``n_ctx`` m tokens per layer, ``depth`` J layers, ``vision_width`` the width of the image
    tower's tokens. ``forward()`` gives the (1, C, embed_dim) L2-normalised class text
    embeddings (the shape of a prompt encoder's output); :meth:`vision_prompts` the (J, m,
    vision_width) prompts of the image tower.
    """

    def __init__(
        self,
        text_tower: TextTower,
        vision_width: int,
        class_names: Sequence[str],
        n_ctx: int,
        *,
        init: str,
        depth: int,
        generator: torch.Generator,
    ):
        super().__init__()
        if not class_names:
            raise InvalidSpecError("a prompt learner needs at least one class name")
        check_context(text_tower, n_ctx, init)
        self.tower = text_tower
        phrase = " ".join([PLACEHOLDER] * n_ctx) if init == "random" else init
        tokens = text_tower.tokenize([f"{phrase} {name}." for name in class_names])
        if init == "random":
            PromptTextEncoder._check_placeholders(tokens.ids, n_ctx)
        self.prompts = replace(tokens, ids=tokens.ids[:, : int(tokens.lengths.max())])
        with torch.no_grad():
            embedded = text_tower.token_embedding(self.prompts.ids).detach()
        self.register_buffer("prefix", embedded[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", embedded[:, 1 + n_ctx :].clone(), persistent=False)
        width = text_tower.token_dim
        if init == "random":
            ctx = torch.randn((n_ctx, width), generator=generator) * INIT_STD
        else:
            ctx = embedded[0, 1 : 1 + n_ctx].clone()
        self.ctx = nn.Parameter(ctx)
        self.deep = nn.Parameter(
            torch.randn((depth - 1, n_ctx, width), generator=generator) * INIT_STD
        )
        first, shared = (self._linear_init(width, vision_width, generator) for _ in range(2))
        self.coupling_weight = nn.Parameter(
            torch.cat([first[0][None], shared[0].expand(depth - 1, -1, -1)])
        )
        self.coupling_bias = nn.Parameter(
            torch.cat([first[1][None], shared[1].expand(depth - 1, -1)])
        )

    @staticmethod
    def _linear_init(
        fan_in: int, fan_out: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) as ``torch.nn.Linear`` starts them: uniform in +-1/sqrt(fan_in)."""
        bound = fan_in**-0.5
        weight = (torch.rand((fan_out, fan_in), generator=generator) * 2 - 1) * bound
        bias = (torch.rand((fan_out,), generator=generator) * 2 - 1) * bound
        return weight, bias

    @property
    def n_classes(self) -> int:
        return int(self.prefix.shape[0])

    def text_prompts(self) -> torch.Tensor:
        """(J, m, text width): the context P_0, then the deep prompts P_1 .. P_{J-1}."""
        return torch.cat([self.ctx[None], self.deep])

    def vision_prompts(self) -> torch.Tensor:
        """(J, m, vision width): F_i(P_i), the coupling map of each layer on its text prompt."""
        projected = torch.einsum("jmt,jvt->jmv", self.text_prompts(), self.coupling_weight)
        return projected + self.coupling_bias[:, None]

    def forward(self) -> torch.Tensor:
        ctx = self.ctx.expand(self.n_classes, -1, -1)
        embeddings = torch.cat([self.prefix, ctx, self.suffix], dim=1)
        features = self.tower.encode_embeddings_deep(embeddings, self.prompts, self.deep, 1)
        return F.normalize(features, dim=-1)[None]


class CoupledImageSide(nn.Module):
    """Pixels -> L2-normalised image features under the vision prompts that ``prompts``
    makes of its text prompts (the same parameters as the text side)."""

    def __init__(self, prompts: MultiModalPrompts, tower: VisionTower):
        super().__init__()
        self.prompts = prompts
        self.tower = tower

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        prompted = self.tower.encode_prompted(pixels, self.prompts.vision_prompts())
        return F.normalize(prompted, dim=-1)


class MaPLeLearner(CoOpLearner):
    """Coupled text and vision prompts; ``coop``'s training loop and outputs on its pixel path."""

    info: ClassVar[LearnerInfo] = MAPLE

    def __init__(self, context: LearnerContext, **options: Any):
        super().__init__(context, **options)
        check_context(context.backbone.text_tower, self.options["n_ctx"], self.options["init"])
        depth = min(self._vision.depth, context.backbone.text_tower.depth)
        if self.options["prompt_depth"] > depth:
            raise InvalidSpecError(
                f"learner {self.name!r}: prompt_depth={self.options['prompt_depth']} but "
                f"backbone {context.backbone.id!r} has towers of {depth} blocks"
            )

    @classmethod
    def check_pixel_path(cls, options: Mapping[str, Any], device: str | None) -> bool:
        """MaPLe always trains on images: refused without an accelerator unless allowed."""
        if not options.get("vpt_allow_cpu", False):
            require_accelerator(
                f"learner {cls.name!r}: MaPLe",
                "it runs the image encoder at every training step",
                "pass vpt_allow_cpu=True for tests and debugging (slow)",
                device,
            )
        return True

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        options = {**cls.defaults, **options}
        cls.check_pixel_path(options, None)
        check_schedule_options(options)

    @staticmethod
    def resolve_options(options: dict[str, Any], context: LearnerContext) -> None:
        """Nothing depends on other options: ``n_ctx`` is kept whatever ``init`` says."""

    def build(self, generator: torch.Generator) -> tuple[MultiModalPrompts, CoupledImageSide]:
        """Freshly drawn prompts and coupling maps (every round)."""
        o = self.options
        prompts = MultiModalPrompts(
            self.context.backbone.text_tower,
            self._vision.width,
            self.context.class_names,
            o["n_ctx"],
            init=o["init"],
            depth=o["prompt_depth"],
            generator=generator,
        ).to(self.device)
        return prompts, CoupledImageSide(prompts, self._vision)

    def _param_groups(self, encoder: nn.Module, adapter: nn.Module) -> list[dict]:
        return [{"params": list(encoder.parameters())}]
