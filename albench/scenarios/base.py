"""What a scenario is: :class:`Scenario` (registered by name), the :class:`World` it draws
from and the :class:`Task` it makes of it.

A run starts from the ideal task: every class of the dataset, every pool and test sample,
and an annotator who tells the truth. A scenario changes that task in up to four steps,
applied in this order whatever the order of the scenarios in the spec (:data:`STEPS`):

``restrict``  which classes the task keeps (an open set leaves some out);
``reshape``   which in-task pool samples there are (a long tail thins classes out);
``mix``       which out-of-task samples join the pool (an open set adds them);
``annotate``  what the annotator says of each pool sample (a noisy oracle errs).

Each step is a method that returns the task unchanged unless the scenario overrides it,
so a combination (``noisy-oracle(rate=0.2)+long-tail(imbalance=100)``) is the steps of
its parts in turn. Every draw is seeded by (dataset, seed) and made over the whole pool,
so a sample's fate does not depend on the strategy, the learner, or the other samples a
run picks: every strategy of a sweep meets the same task and comparisons stay paired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from albench.errors import InvalidSpecError
from albench.options import OptionSpec, check_values

#: the steps of a task, in the order they apply (see the module docstring)
STEPS = ("restrict", "reshape", "mix", "annotate")
#: the label of a pool sample outside the task's classes (it has none in the task)
OUTSIDE = -1


@dataclass(frozen=True)
class World:
    """What scenarios draw from: one dataset's splits as a run receives them, and its seed.

    ``class_names``: the dataset's classes (an open set may name those it holds out).
    ``zero_shot``: (rows, classes) -> the zero-shot class probabilities of those pool rows
    over those dataset classes (CLIP's prompt classifier on the cached features), for
    scenarios that follow the model's confusions.
    """

    dataset: str
    seed: int
    pool_labels: np.ndarray
    test_labels: np.ndarray
    n_classes: int
    class_names: tuple[str, ...] = ()
    zero_shot: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class Task:
    """The classification task a run works on, in the dataset's own rows.

    ``classes``: the dataset classes the task keeps; task label j is dataset class
    ``classes[j]``. ``labels`` / ``revealed``: the true task label of every pool sample of
    the dataset, and what the annotator says of it (:data:`OUTSIDE` for a sample of
    another class: it has no label in the task). ``pool``: the pool rows the run may query
    (sorted). ``test``: the test rows it is scored on, ``test_labels`` their task labels.
    """

    classes: np.ndarray
    labels: np.ndarray
    revealed: np.ndarray
    pool: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray

    @classmethod
    def ideal(cls, world: World) -> Task:
        """Every class, every sample, and an annotator who tells the truth."""
        labels = np.asarray(world.pool_labels, dtype=np.int64)
        return cls(
            classes=np.arange(world.n_classes, dtype=np.int64),
            labels=labels,
            revealed=labels,
            pool=np.arange(len(labels), dtype=np.int64),
            test=np.arange(len(world.test_labels), dtype=np.int64),
            test_labels=np.asarray(world.test_labels, dtype=np.int64),
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def with_pool(self, rows: np.ndarray) -> Task:
        return replace(self, pool=np.sort(np.asarray(rows, dtype=np.int64)))


class Scenario:
    """One departure from the ideal experiment, registered under its ``name``.

    Subclasses are frozen dataclasses whose fields are their options, declared (default,
    type, help) in ``options``; they override the steps (:data:`STEPS`) they change and
    :meth:`check` for the values the option types cannot say.
    """

    name: ClassVar[str] = ""
    options: ClassVar[Mapping[str, OptionSpec]] = {}
    #: the paper the scenario follows, for docs and listings
    reference: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if cls.name:
            SCENARIOS[cls.name] = cls

    @classmethod
    def build(cls, options: Mapping[str, Any]) -> Scenario:
        """The scenario with ``options`` over the defaults; one-line errors."""
        check_values(f"scenario {cls.name!r}", options, cls.options)
        values = {key: spec.default for key, spec in cls.options.items()} | dict(options)
        scenario = cls(**values)
        problem = scenario.check()
        if problem:
            raise InvalidSpecError(f"scenario {cls.name!r}: {problem}")
        return scenario

    def check(self) -> str:
        """What is wrong with the option values ("" when nothing is)."""
        return ""

    def sources(self) -> tuple[str, ...]:
        """Other datasets whose pool images the scenario draws (their features join the
        run's inputs, :mod:`albench.joined_inputs`)."""
        return ()

    def restrict(self, task: Task, world: World) -> Task:
        return task

    def reshape(self, task: Task, world: World) -> Task:
        return task

    def mix(self, task: Task, world: World) -> Task:
        return task

    def annotate(self, task: Task, world: World) -> Task:
        return task


#: scenario name -> its class (filled by subclassing :class:`Scenario`)
SCENARIOS: dict[str, type[Scenario]] = {}
