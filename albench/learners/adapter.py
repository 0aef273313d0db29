"""CLIP-Adapter's residual feature adapter, shared by the ``clip-adapter`` and prompt learners.

Gao et al., "CLIP-Adapter: Better Vision-Language Models with Feature Adapters", IJCV 2023
(arXiv 2110.04544), visual-adapter variant:

    A(f) = ReLU(W_2 ReLU(W_1 f)),   W_1: d -> d / reduction,  W_2: d / reduction -> d
    f'   = normalise(alpha * A(f) + (1 - alpha) * f)

Both layers start from PyTorch's ``nn.Linear`` default, uniform(+-1/sqrt(fan_in))
(``kaiming_uniform_(a=sqrt(5))``), drawn from the caller's generator, never from the global
RNG: ``W_1`` first, then ``W_2``. These are bit for bit the draws of
``(torch.rand(shape) * 2 - 1) / sqrt(fan_in)`` in the same order, which the
``clip-adapter`` learner used before the two adapters became this one.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ResidualAdapter(nn.Module):
    """``normalise(alpha * MLP(f) + (1 - alpha) * f)`` on image features (no biases).

    ``alpha == 0`` is the identity on unit vectors, and then nothing is trainable.
    """

    def __init__(self, dim: int, alpha: float, reduction: int, generator: torch.Generator):
        super().__init__()
        hidden = max(1, dim // reduction)
        self.alpha = alpha
        self.down = nn.utils.skip_init(nn.Linear, dim, hidden, bias=False)
        self.up = nn.utils.skip_init(nn.Linear, hidden, dim, bias=False)
        for layer in (self.down, self.up):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask``: dropout multipliers on the MLP branch's input (None: no dropout)."""
        if self.alpha == 0:
            return F.normalize(features, dim=-1)
        inner = features if mask is None else features * mask
        residual = F.relu(self.up(F.relu(self.down(inner))))
        return F.normalize(self.alpha * residual + (1 - self.alpha) * features, dim=-1)

    def trainable(self) -> list[nn.Parameter]:
        """The weights the forward pass uses (none at ``alpha == 0``)."""
        return list(self.parameters()) if self.alpha else []
