"""Visual prompt tuning (VPT): learnable tokens in the frozen ViT image tower.

Jia et al., "Visual Prompt Tuning" (ECCV 2022). ``n_vpt`` prompt vectors join the token
sequence of the image tower after the class token; VPT-shallow inserts them before the first
transformer block only, VPT-deep (``vpt_deep``) inserts fresh ones before every block, in
place of the previous block's prompt outputs. The backbone stays frozen; only the prompts
(and the learner's own text context and adapter) are trained.

Unlike every other part of a prompt learner, VPT cannot work from cached image features: each
training step runs the image encoder forward and backward on the batch, and every round
re-encodes the pool and the test split with the new prompts. That is why it is offered only
where an accelerator is present (``docs/protocol.md`` gives the step times), and refused
otherwise unless ``vpt_allow_cpu`` is set (for tests and debugging; slow).

Defaults (also in ``docs/protocol.md``): ``n_vpt`` 0 (off); 10 is the suggested length, in
VPT's grid {1, 5, 10, 50, 100, 200}; shallow; prompts initialised uniformly in +-sqrt(6 /
(patch_dim + width)), the Xavier bound VPT uses (fan-in: the values of one patch); they are
trained at the learner's ``lr`` unless ``vpt_lr`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from albench.backbones.base import VisionTower
from albench.errors import CapabilityError, InvalidSpecError

#: images per forward pass when a fitted learner encodes the pool or the test split
ENCODE_BATCH = 128


def accelerator_available() -> bool:
    """Whether a CUDA device is present (what VPT's gate asks)."""
    return torch.cuda.is_available()


def check_vpt_options(learner: str, options: Mapping[str, Any], device: str | None) -> None:
    """Refuse bad VPT options, and VPT without an accelerator, in one line each.

    ``device``: the run's device when known (learner construction), None at check time.
    """
    n_vpt = options.get("n_vpt", 0)
    if isinstance(n_vpt, bool) or not isinstance(n_vpt, int) or n_vpt < 0:
        raise InvalidSpecError(f"learner {learner!r}: n_vpt must be a whole number >= 0")
    if not n_vpt or options.get("vpt_allow_cpu", False):
        return
    require_accelerator(
        f"learner {learner!r}: VPT",
        f"n_vpt={n_vpt} runs the image encoder at every training step",
        "drop n_vpt, or pass vpt_allow_cpu=True for tests and debugging (slow)",
        device,
    )


def require_accelerator(what: str, why: str, fallback: str, device: str | None) -> None:
    """Refuse ``what`` (a learner that runs the image encoder at every training step) in one
    line when no CUDA device is present, or when the run's ``device`` is the CPU."""
    if not accelerator_available():
        raise CapabilityError(
            f"{what} needs an accelerator ({why}) and no CUDA device is available; {fallback}"
        )
    if device is not None and torch.device(device).type == "cpu":
        raise CapabilityError(
            f"{what} needs an accelerator, but this run's backbone is on cpu; load the inputs "
            f"on cuda (albench.inputs.load_inputs(..., device='cuda')), or {fallback}"
        )


class VisualPrompts(nn.Module):
    """Learnable prompts of a :class:`~albench.backbones.base.VisionTower`: pixels in,
    L2-normalised image features out.

    ``prompts``: (1, n, width) for VPT-shallow, (depth, n, width) for VPT-deep, drawn from
    ``generator``. The tower is kept out of the module's parameters (it is frozen and shared).
    """

    def __init__(
        self, tower: VisionTower, n_tokens: int, *, deep: bool, generator: torch.Generator
    ):
        super().__init__()
        self.tower = tower
        bound = math.sqrt(6 / (tower.patch_dim + tower.width))
        shape = (tower.depth if deep else 1, n_tokens, tower.width)
        self.prompts = nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.tower.encode_prompted(pixels, self.prompts), dim=-1)
