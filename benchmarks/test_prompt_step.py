"""One dual-prompt training step, by how the text tower encodes the prompts.

A step encodes the positive and negative prompts of all C classes (2C prompts), scores a
batch of 32 cached image features, and back-propagates CE plus the negative loss into the
contexts and the adapter. Three exact ways to encode the prompts (equal outputs:
tests/test_prompt_learners.py) are timed against each other:

* ``shared-prefix`` (the default): start token and context run once per context, only the
  class-name tokens per class;
* ``truncated``: every prompt whole, cut at the longest real prompt;
* ``full-77``: every prompt whole at CLIP's full context length.

On a shared machine the load drifts, so each round runs the three steps in turn and the
ratios (``truncated_over_shared``, ``full_over_shared``) are of medians from the same rounds.
The steps run on one torch thread, as every run does (``albench/backends.py``): on a loaded
machine a second thread mostly adds waiting to the many small operations of a step.
The class names are synthetic: 1 to 3 words of a fixed list, all distinct, so that prompts
differ in length as real names do.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from albench.backbones import get_backbone
from albench.learners import LearnerContext
from albench.learners.adapter import ResidualAdapter
from albench.learners.dual_prompt import DualPromptLearner
from albench.learners.prompt_encoder import PromptTextEncoder

WORDS = ("t-shirt", "trouser", "pullover", "dress", "coat")
WORDS += ("sandal", "shirt", "sneaker", "bag", "ankle boot")
BATCH = 32
PATHS: dict[str, dict[str, bool]] = {
    "shared-prefix": {},
    "truncated": {"shared_prefix": False},
    "full-77": {"shared_prefix": False, "truncate": False},
}
#: rounds per class count: a full-77 step at C = 1,000 takes seconds on a laptop CPU
ROUNDS = {10: 30, 100: 10, 1000: 3}


def class_names(n: int) -> list[str]:
    """``n`` distinct names: the base-10 digits of i spelled with :data:`WORDS`."""
    return [" ".join(WORDS[int(digit)] for digit in str(i)) for i in range(n)]


def step_function(
    backbone_name: str, names: Sequence[str], **options: Any
) -> tuple[Callable[[], None], PromptTextEncoder]:
    """A closure running one optimisation step of a fresh dual-prompt model, and its encoder."""
    backbone = get_backbone(backbone_name)
    dim = backbone.embed_dim
    context = LearnerContext(
        class_names=tuple(names),
        text_embeddings=np.zeros((len(names), dim), dtype=np.float32),
        logit_scale=backbone.logit_scale,
        backbone=backbone,
    )
    learner = DualPromptLearner(context)
    generator = torch.Generator().manual_seed(0)
    encoder = PromptTextEncoder(
        backbone.text_tower, names, 16, generator=generator, n_prompts=2, **options
    )
    adapter = ResidualAdapter(dim, 0.2, 4, generator)
    optimizer = torch.optim.SGD([encoder.ctx, *adapter.parameters()], lr=0.002, momentum=0.9)
    features = torch.nn.functional.normalize(torch.randn(BATCH, dim, generator=generator), dim=1)
    labels = torch.randint(len(names), (BATCH,), generator=generator)
    index = torch.arange(BATCH)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        learner.loss(encoder, adapter, features, labels, index, generator, 1).backward()
        optimizer.step()

    return step, encoder


@pytest.fixture
def one_thread():
    """One torch thread for the test, the previous count restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.benchmark(group="dual-prompt step by prompt path, tiny-clip, batch 32, 1 thread")
@pytest.mark.parametrize("n_classes", sorted(ROUNDS))
def test_dual_prompt_step_paths_tiny_clip(benchmark, one_thread, n_classes):
    names = class_names(n_classes)
    built = {path: step_function("tiny-clip", names, **options) for path, options in PATHS.items()}
    assert built["shared-prefix"][1].full_pass_reason is None
    with torch.no_grad():
        expected = built["truncated"][1]()
        for _, encoder in built.values():
            torch.testing.assert_close(encoder(), expected, atol=1e-5, rtol=0)
    times: dict[str, list[float]] = {path: [] for path in PATHS}

    def one_round() -> None:
        for path, (step, _) in built.items():
            start = time.perf_counter()
            step()
            times[path].append(time.perf_counter() - start)

    one_round()  # warm-up, not counted
    for spent in times.values():
        spent.clear()
    benchmark.pedantic(one_round, rounds=ROUNDS[n_classes], iterations=1)
    median = {path: statistics.median(spent) for path, spent in times.items()}
    benchmark.extra_info.update(
        n_classes=n_classes,
        sequence_length=int(built["truncated"][1].prompts.ids.shape[1]),
        **{f"{path}_s": round(seconds, 5) for path, seconds in median.items()},
        truncated_over_shared=round(median["truncated"] / median["shared-prefix"], 2),
        full_over_shared=round(median["full-77"] / median["shared-prefix"], 2),
    )


@pytest.mark.benchmark(group="dual-prompt step, offline MiniLM tower, C=10, batch 32")
def test_dual_prompt_step_offline(benchmark):
    step, encoder = step_function("offline-effnet-minilm", class_names(10))
    assert encoder.full_pass_reason == "the text tower is not causal"
    benchmark.extra_info["sequence_length"] = int(encoder.prompts.ids.shape[1])
    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
