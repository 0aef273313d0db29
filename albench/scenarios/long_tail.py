"""``long-tail(imbalance=100)``: a pool whose classes follow an exponential profile.

The pool keeps n_i = int(n_max * imbalance^(-i / (C - 1))) images of the class at position
i of a seeded class order (i = 0 .. C-1), the long-tailed CIFAR profile of Cao et al.
(NeurIPS 2019, "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss",
sec. 4; ``imbalance`` is their ratio rho = n_max / n_min, and ``int`` truncates as their
``get_img_num_per_cls`` does). n_max is the smallest class's count in the pool, so every
class can supply its share and the profile is exact on a pool that is not balanced to
begin with; a class keeps at least one image, so each class of the test set can still be
labelled. The order of the classes and the images each keeps are drawn per
(dataset, seed): every strategy of a seed sees the same pool, and seeds average over which
classes are rare. The test split stays balanced, so accuracy weighs every class as before
and balanced and worst-class accuracy show what the rare classes lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from albench.options import OptionSpec
from albench.scenarios.base import Scenario, Task, World
from albench.seeding import stream


def profile(n_max: int, n_classes: int, imbalance: float) -> np.ndarray:
    """Images per class position: int(n_max * imbalance^(-i/(C-1))), at least 1."""
    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    exponents = -np.arange(n_classes) / (n_classes - 1)
    counts = [int(n_max * imbalance**exponent) for exponent in exponents]
    return np.maximum(np.array(counts, dtype=np.int64), 1)


@dataclass(frozen=True)
class LongTail(Scenario):
    """Thins the pool's classes out to an exponential profile (Cao et al., 2019)."""

    name = "long-tail"
    reference = "Cao et al., NeurIPS 2019 (LDAM): long-tailed CIFAR profile"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "imbalance": OptionSpec(100.0, "largest over smallest class count", minimum=1),
    }

    imbalance: float = 100.0

    def reshape(self, task: Task, world: World) -> Task:
        rng = stream(world.seed, "long-tail", world.dataset, repr(float(self.imbalance)))
        labels = task.labels[task.pool]
        order = rng.permutation(task.n_classes)
        n_max = int(np.bincount(labels[labels >= 0], minlength=task.n_classes).min())
        keep = [task.pool[labels < 0]]  # samples outside the task are another step's
        for count, label in zip(profile(n_max, task.n_classes, self.imbalance), order, strict=True):
            members = task.pool[labels == label]
            keep.append(rng.choice(members, size=min(count, len(members)), replace=False))
        return task.with_pool(np.concatenate(keep))
