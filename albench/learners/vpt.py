"""VPT: visual prompts only; the text side is the zero-shot classifier of hand-written prompts.

Jia et al., "Visual Prompt Tuning" (ECCV 2022), as the image-side paradigm the founding
paper (arXiv 2602.04340) evaluates beside CoOp and MaPLe: learnable tokens in the frozen ViT
image tower (:mod:`albench.learners.visual_prompts`), classified against the class
embeddings of the dataset's hand-written templates, averaged over templates
(``LearnerContext.text_embeddings``, CLIP's prompt ensembling, Radford et al. 2021). Only
the prompts train, with cross-entropy on the labelled images; the text tower is not run.

It is the ``coop`` learner with the text context replaced by that fixed classifier and no
adapter: the same schedule (``steps`` or ``epochs``), optimiser and pixel path, so it needs
an accelerator unless ``vpt_allow_cpu`` (tests), and refuses towers it cannot prompt (the
offline backbone, open_clip ResNets) by name. Default length 10, the small end of VPT's grid
{1, 5, 10, 50, 100, 200}, as for ``n_vpt`` of the prompt learners (``docs/protocol.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from albench.learners.adapter import ResidualAdapter
from albench.learners.base import LearnerContext
from albench.learners.catalog import VPT, LearnerInfo
from albench.learners.coop import CoOpLearner, ImageSide, PromptedAdapter
from albench.learners.visual_prompts import VisualPrompts


class FixedText(nn.Module):
    """The (1, C, d) class embeddings of the hand-written templates; nothing to train."""

    def __init__(self, embeddings: torch.Tensor):
        super().__init__()
        self.register_buffer("text", embeddings[None], persistent=False)

    def forward(self) -> torch.Tensor:
        return self.text


class VPTLearner(CoOpLearner):
    """Visual prompts in the image tower, template class embeddings as the classifier."""

    info: ClassVar[LearnerInfo] = VPT

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        """As the prompt learners', with the default ``n_vpt`` (VPT is always on here)."""
        super().check_option_values({**cls.defaults, **options})

    @staticmethod
    def resolve_options(options: dict[str, Any], context: LearnerContext) -> None:
        """The prompts train at ``lr`` (``vpt_lr`` of the prompt learners)."""
        options["vpt_lr"] = options["lr"]

    def build(self, generator: torch.Generator) -> tuple[FixedText, ImageSide]:
        """Fresh prompts (every round); the classifier is the same every round."""
        o = self.options
        text = torch.as_tensor(self.context.text_embeddings, dtype=torch.float32)
        visual = VisualPrompts(self._vision, o["n_vpt"], deep=o["vpt_deep"], generator=generator)
        identity = ResidualAdapter(text.shape[1], 0.0, 1, generator)
        return FixedText(text).to(self.device), PromptedAdapter(visual, identity).to(self.device)

    def _param_groups(self, encoder: nn.Module, adapter: ImageSide) -> list[dict]:
        assert isinstance(adapter, PromptedAdapter)
        return [{"params": [adapter.visual.prompts]}]
