"""``noisy-oracle(rate=, kind="uniform")``: an annotator who reveals wrong labels.

Each label the annotator reveals (the initial set and every query) is wrong with
probability ``rate``. With ``kind="uniform"`` a wrong label is a uniformly drawn other
class, the symmetric label noise of the noisy-label literature (e.g. Patrini et al., CVPR
2017; DeFT, Wei et al., NeurIPS 2024, uses the same for its detectors). With
``kind="confusion"`` it follows the zero-shot model's confusion between classes
(:mod:`albench.scenarios.confusion`): a sample of class i becomes class j with probability
proportional to how much CLIP's prompt classifier confuses i with j, as class-dependent
(asymmetric) noise whose transition matrix follows class similarity (Patrini et al.'s
T; the "real-world" noise of CIFAR-N, Wei et al., ICLR 2022, is of this kind).

Whether sample i's label is wrong, and what it becomes, is drawn once per (dataset, seed,
sample) over the whole pool, so every strategy and learner of a sweep meets the same
annotator on the same sample and comparisons stay paired. Strategies and learners see only
the revealed labels; the test split stays clean, and the results count the wrong labels
each run got.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from albench.options import OptionSpec
from albench.scenarios.base import OUTSIDE, Scenario, Task, World
from albench.scenarios.confusion import draw_confused, zero_shot_confusion
from albench.seeding import stream


@dataclass(frozen=True)
class NoisyOracle(Scenario):
    """Reveals each label wrongly with probability ``rate`` (uniform over other classes)."""

    name = "noisy-oracle"
    reference = "symmetric label noise (Patrini et al., CVPR 2017)"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "rate": OptionSpec(0.0, "probability that a revealed label is wrong", minimum=0),
        "kind": OptionSpec(
            "uniform", "how a wrong label is drawn", choices=("uniform", "confusion")
        ),
    }

    rate: float
    kind: str = "uniform"

    def check(self) -> str:
        return "" if 0 <= self.rate < 1 else f"rate is in [0, 1), not {self.rate}"

    def annotations(
        self,
        labels: np.ndarray,
        n_classes: int,
        seed: int,
        dataset: str,
        law: np.ndarray | None = None,
    ) -> np.ndarray:
        """The label the annotator gives for every pool sample (row i: pool sample i); a
        wrong one is uniform over the other classes, or drawn from ``law[true class]``."""
        rng = stream(seed, "oracle", dataset, f"{self.kind}:{self.rate!r}")
        wrong = rng.random(len(labels)) < self.rate
        if law is not None:
            noisy = draw_confused(labels, law, rng.random(len(labels)))
        else:
            shift = rng.integers(1, max(n_classes, 2), len(labels))
            noisy = (labels + shift) % n_classes if n_classes > 1 else labels
        return np.where(wrong, noisy, labels).astype(np.int64)

    def law(self, task: Task, world: World) -> np.ndarray | None:
        """The law of a wrong label given the true one (None: uniform)."""
        return LAWS[self.kind](task, world)

    def annotate(self, task: Task, world: World) -> Task:
        """Samples outside the task stay without a label: no class can be wrong for them."""
        law = self.law(task, world)
        given = self.annotations(task.labels, task.n_classes, world.seed, world.dataset, law)
        return replace(task, revealed=np.where(task.labels == OUTSIDE, OUTSIDE, given))


#: kind -> the law of a wrong label given the true one, from the task (None: uniform)
LAWS: dict[str, Callable[[Task, World], np.ndarray | None]] = {
    "uniform": lambda task, world: None,
    "confusion": lambda task, world: zero_shot_confusion(task.labels, task.classes, world),
}
