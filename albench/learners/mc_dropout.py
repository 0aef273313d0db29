"""Dropout on one layer's input, seeded, for training and for Monte-Carlo dropout passes.

MC dropout (Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016) keeps
dropout on at inference and reads T stochastic passes as T samples of the model. A dropout
mask on a layer's input is a Bernoulli draw over that layer's weight columns, so pass t is
one sampled model only if every row sees the same mask: the consistent MC dropout of the
BatchBALD reference (``BlackHC/batchbald_redux``, ``consistent_mc_dropout.py``), without
which BatchBALD's joint entropies mean nothing. Here pass t uses mask t for every row, and
the T masks come from a seed drawn once per fit, so any block of pool rows, asked for at
any time until the next fit, sees the same T models.

Masks are inverted dropout, as ``torch.nn.Dropout``: 0 with probability ``rate``, else
1 / (1 - rate), so the expected input is unchanged and inference without dropout needs no
rescaling. Every draw comes from a ``torch.Generator`` seeded from the learner's stream,
never from torch's global RNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from albench.errors import InvalidSpecError
from albench.seeding import torch_seed


def check_rate(owner: str, options: Mapping[str, Any]) -> None:
    """Refuse a ``dropout`` option outside [0, 1) in one line (the catalog checks >= 0)."""
    rate = options.get("dropout", 0.0)
    if not 0.0 <= rate < 1.0:
        raise InvalidSpecError(f"{owner}: dropout is a rate in [0, 1), got {rate!r}")


def masks(shape: tuple[int, ...], rate: float, generator: torch.Generator) -> torch.Tensor:
    """Inverted-dropout multipliers of ``shape``: 0 with probability ``rate``, else 1/(1-rate)."""
    kept = torch.rand(shape, generator=generator) >= rate
    return kept.to(torch.float32) / (1.0 - rate)


class InputDropout:
    """Dropout on a layer's input at ``rate``: fresh masks while training, and for
    :meth:`passes` T masks fixed from one fit to the next."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self._pass_seed: int | None = None

    def __bool__(self) -> bool:
        return self.rate > 0

    def start_fit(self, rng: np.random.Generator) -> torch.Generator:
        """Seeds for one fit, from the learner's stream: the generator of the training masks
        (returned), then the seed of the MC passes' masks (kept until the next fit)."""
        generator = torch.Generator()
        generator.manual_seed(torch_seed(rng))
        self._pass_seed = torch_seed(rng)
        return generator

    def training_masks(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return masks(shape, self.rate, generator)

    def passes(self, samples: int, width: int, device: str = "cpu") -> torch.Tensor:
        """(samples, width) masks, the same at every call until the next fit: row t is the
        mask of pass t, shared by every input row."""
        if not self:
            raise RuntimeError("MC dropout passes need a dropout rate > 0")
        if self._pass_seed is None:
            raise RuntimeError("MC dropout passes asked for before the learner was fitted")
        if int(samples) < 1:
            raise ValueError(f"MC dropout needs at least one pass, got samples={samples!r}")
        generator = torch.Generator()
        generator.manual_seed(self._pass_seed)
        return masks((int(samples), int(width)), self.rate, generator).to(device)
