"""``open-set(ratio=0.3, classes=None, source=None)``: a pool that holds images of other
classes.

The task keeps some of the dataset's classes and holds the others out; a share ``ratio``
of the pool is then images of held-out classes, which the annotator can only answer with
"none of these classes". Such a query costs its budget and yields no label: the runner
records it as wasted (``n_wasted_queries``), never trains on it and never offers it again.
The test split keeps the task's classes only. This is the open-set active-learning setting
of Ning et al. ("Active Learning for Open-set Annotation", CVPR 2022, LfOSA) and Du et al.
(CCAL, ICCV 2021), who also draw the unknown classes from the same dataset and report the
share of queries that hit a known class.

``classes``: the held-out classes, by name (a tuple, ``classes=('shirt', 'sandal')``: the
option grammar splits at commas outside parentheses) or as a number of them drawn per
(dataset, seed); None holds out a third of the classes (at least one). Out-of-task images
are drawn per (dataset, seed) so that they make up ``ratio`` of the pool the task ends
with (after a long tail, if any); a scenario asking for more than the held-out classes
hold is refused before any run.

``source``: another dataset (by name) whose pool images make up the out-of-task share
instead; the task then keeps every class of its dataset and its whole test split. The
sweep joins the source's cached features (same backbone) to the run's pool, labelled
:data:`~albench.scenarios.base.OUTSIDE` (:mod:`albench.joined_inputs`), so that the ``mix``
step draws them as it draws held-out images, per (dataset, source, seed). ``classes`` and
``source`` are exclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from albench.errors import InvalidSpecError
from albench.options import OptionSpec
from albench.scenarios.base import OUTSIDE, Scenario, Task, World
from albench.seeding import stream


@dataclass(frozen=True)
class OpenSet(Scenario):
    """Holds some classes out of the task and mixes their images into the pool."""

    name = "open-set"
    reference = "Ning et al., CVPR 2022 (LfOSA); Du et al., ICCV 2021 (CCAL)"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "ratio": OptionSpec(0.3, "share of the pool from held-out classes", minimum=0),
        "classes": OptionSpec(
            None, "held-out classes: their names, or how many", types=(int, list, tuple, type(None))
        ),
        "source": OptionSpec(
            None, "another dataset whose pool images are the out-of-task share",
            types=(str, type(None)),
        ),
    }  # fmt: skip

    ratio: float = 0.3
    classes: Any = None
    source: str | None = None

    def check(self) -> str:
        if not 0 <= self.ratio < 1:
            return f"ratio is in [0, 1), not {self.ratio}"
        if isinstance(self.classes, int) and self.classes < 1:
            return f"classes: hold out at least one class, not {self.classes}"
        if isinstance(self.classes, list | tuple) and not all(
            isinstance(name, str) for name in self.classes
        ):
            return "classes: a number, or a tuple of class names"
        if self.classes is not None and self.source is not None:
            return (
                "classes= and source= exclude each other: hold out classes, or draw another dataset"
            )
        if self.source == "":
            return "source: a dataset name"
        return ""

    def sources(self) -> tuple[str, ...]:
        return () if self.source is None else (self.source,)

    def held_out(self, world: World) -> np.ndarray:
        """The dataset classes the task leaves out (none when images come from a source)."""
        if self.source is not None:
            return np.zeros(0, dtype=np.int64)
        if isinstance(self.classes, list | tuple):
            unknown = sorted(set(self.classes) - set(world.class_names))
            if unknown:
                raise InvalidSpecError(f"open-set: {world.dataset} has no class {unknown[0]!r}")
            return np.flatnonzero(np.isin(world.class_names, self.classes))
        count = max(1, world.n_classes // 3) if self.classes is None else self.classes
        if count > world.n_classes - 2:
            raise InvalidSpecError(
                f"open-set: holding out {count} of the {world.n_classes} classes of "
                f"{world.dataset} leaves fewer than 2 in the task"
            )
        rng = stream(world.seed, "open-set", world.dataset)
        return np.sort(rng.choice(world.n_classes, size=count, replace=False))

    def restrict(self, task: Task, world: World) -> Task:
        """The task keeps the other classes; held-out images leave the pool and test."""
        out = np.isin(task.classes, self.held_out(world))
        position = np.full(task.n_classes + 1, OUTSIDE)  # the last entry maps OUTSIDE
        position[np.flatnonzero(~out)] = np.arange(np.count_nonzero(~out))
        labels = position[task.labels]
        tested = position[task.test_labels]
        return replace(
            task,
            classes=task.classes[~out],
            labels=labels,
            revealed=labels,
            pool=task.pool[labels[task.pool] != OUTSIDE],
            test=task.test[tested != OUTSIDE],
            test_labels=tested[tested != OUTSIDE],
        )

    def mix(self, task: Task, world: World) -> Task:
        """Held-out (or source) images join the pool, ``ratio`` of it in the end."""
        outside = np.flatnonzero(task.labels == OUTSIDE)
        wanted = round(self.ratio * len(task.pool) / (1 - self.ratio))
        if wanted > len(outside):
            raise InvalidSpecError(
                f"open-set(ratio={self.ratio}): {self._short(world, len(outside), wanted)}"
            )
        key = (world.dataset, repr(float(self.ratio)), *self.sources())
        rng = stream(world.seed, "open-set-pool", *key)
        return task.with_pool(np.concatenate([task.pool, rng.choice(outside, wanted, False)]))

    def _short(self, world: World, available: int, wanted: int) -> str:
        """Why the ``available`` out-of-task images cannot make up the ``wanted`` ones."""
        if self.source is None:
            return (
                f"the held-out classes of {world.dataset} hold {available} pool images, "
                f"fewer than the {wanted} the ratio needs; hold out more classes or lower the ratio"
            )
        if available == 0:
            return (
                f"the run's inputs hold no images of source {self.source!r}; join them with "
                "albench.joined_inputs.spec_inputs"
            )
        return (
            f"source {self.source} holds {available} pool images, fewer than the {wanted} the "
            "ratio needs; lower the ratio or choose a larger source"
        )
