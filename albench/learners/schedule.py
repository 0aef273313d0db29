"""How long a prompt learner trains in a round, and its learning-rate schedule.

Two ways to say how long, both cosine-annealed to 0 over the round:

* ``steps`` (the default, 200): that many mini-batch steps whatever the labelled-set size,
  the learning rate annealed step by step (``torch.optim.lr_scheduler.CosineAnnealingLR``);
* ``epochs``: that many passes over the labelled set in mini-batches, ceil(n / batch) steps
  each (one step when n <= batch), as CoOp and PCB train. The rate is set per epoch, as
  Dassl (CoOp's trainer) steps its scheduler after each epoch: the first ``warmup_epochs``
  of the ``epochs`` run at the constant ``warmup_lr`` (Dassl's ``ConstantWarmupScheduler``;
  CoOp's configs: 1 epoch at 1e-5), then the e-th epoch after the warm-up at
  ``lr * (1 + cos(pi * e / epochs)) / 2`` (Dassl's ``CosineAnnealingLR(T_max=MAX_EPOCH)``
  successor starts counting when the warm-up ends, ``OPTIM.WARMUP_RECOUNT = True``, so the
  rate never quite reaches 0).

Every parameter group is scaled alike: during the warm-up the visual prompts' rate is
``vpt_lr * warmup_lr / lr``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from albench.errors import InvalidSpecError


@dataclass(frozen=True)
class Schedule:
    """``steps`` in all; with ``epochs``, ``steps_per_epoch`` each."""

    steps: int
    epochs: int | None = None
    steps_per_epoch: int = 1
    warmup_epochs: int = 0
    warmup_factor: float = 1.0

    @classmethod
    def of(cls, options: Mapping[str, Any], n_samples: int) -> Schedule:
        """The schedule of a learner's ``options`` for a labelled set of ``n_samples``."""
        check_schedule_options(options)
        epochs = options.get("epochs")
        if epochs is None:
            return cls(steps=options["steps"])
        per_epoch = math.ceil(n_samples / min(options["batch_size"], n_samples))
        warmup = options.get("warmup_epochs", 0)
        lr = options["lr"]
        return cls(
            steps=epochs * per_epoch,
            epochs=epochs,
            steps_per_epoch=per_epoch,
            warmup_epochs=warmup,
            warmup_factor=options.get("warmup_lr", 0.0) / lr if lr else 0.0,
        )

    def factor(self, step: int) -> float:
        """The learning rate of ``step`` as a share of the base rate (epochs mode)."""
        assert self.epochs is not None
        epoch = step // self.steps_per_epoch
        if epoch < self.warmup_epochs:
            return self.warmup_factor
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - self.warmup_epochs) / self.epochs))

    def scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        """Stepped once after every optimisation step."""
        if self.epochs is None:
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.steps)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, self.factor)


def check_schedule_options(options: Mapping[str, Any]) -> None:
    """A warm-up is counted in epochs, so it needs ``epochs``."""
    if options.get("warmup_epochs") and options.get("epochs") is None:
        raise InvalidSpecError("warmup_epochs needs epochs= (a warm-up is counted in epochs)")
