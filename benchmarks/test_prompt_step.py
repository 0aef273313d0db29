"""One dual-prompt training step: prompts cut at the longest real prompt vs full 77 tokens.

A step encodes the positive and negative prompts of all C = 10 classes (2C sequences) in one
pass of the text tower, scores a batch of 32 cached image features, and back-propagates CE
plus the negative loss into the contexts and the adapter. Truncation gives identical outputs
(tests/test_prompt_learners.py); this measures what it saves. The group's "(x)" columns give
the full-length / truncated ratio.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from albench.backbones import get_backbone
from albench.learners import LearnerContext
from albench.learners.adapter import ResidualAdapter
from albench.learners.dual_prompt import DualPromptLearner
from albench.learners.prompt_encoder import PromptTextEncoder

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat")
CLASSES += ("sandal", "shirt", "sneaker", "bag", "ankle boot")
BATCH = 32


def step_function(backbone_name: str, truncate: bool):
    """A closure running one optimisation step of a fresh dual-prompt model."""
    backbone = get_backbone(backbone_name)
    dim = backbone.embed_dim
    context = LearnerContext(
        class_names=CLASSES,
        text_embeddings=np.zeros((len(CLASSES), dim), dtype=np.float32),
        logit_scale=backbone.logit_scale,
        backbone=backbone,
    )
    learner = DualPromptLearner(context)
    generator = torch.Generator().manual_seed(0)
    encoder = PromptTextEncoder(
        backbone.text_tower, CLASSES, 16, generator=generator, n_prompts=2, truncate=truncate
    )
    adapter = ResidualAdapter(dim, 0.2, 4, generator)
    optimizer = torch.optim.SGD([encoder.ctx, *adapter.parameters()], lr=0.002, momentum=0.9)
    features = torch.nn.functional.normalize(torch.randn(BATCH, dim, generator=generator), dim=1)
    labels = torch.randint(len(CLASSES), (BATCH,), generator=generator)
    index = torch.arange(BATCH)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        learner.loss(encoder, adapter, features, labels, index, generator, 1).backward()
        optimizer.step()

    return step, int(encoder.prompts.ids.shape[1])


@pytest.mark.benchmark(group="dual-prompt step, tiny-clip, C=10, batch 32")
@pytest.mark.parametrize("truncate", [True, False], ids=["truncated", "full-77"])
def test_dual_prompt_step_tiny_clip(benchmark, truncate):
    step, length = step_function("tiny-clip", truncate)
    benchmark.extra_info["sequence_length"] = length
    benchmark(step)


@pytest.mark.benchmark(group="dual-prompt step, offline MiniLM tower, C=10, batch 32")
def test_dual_prompt_step_offline(benchmark):
    step, length = step_function("offline-effnet-minilm", True)
    benchmark.extra_info["sequence_length"] = length
    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
