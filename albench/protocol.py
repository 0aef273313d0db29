"""The round protocol of an experiment: one frozen record shared by runs and sweeps.

A :class:`Protocol` says how labels are acquired: the initial-set policy and size, the
labels per round, the number of rounds, whether pseudo-labels are trained on, the pool
subsample, and how many cached views of each pool image learners train on. It is built
once (from flags, a sweep file or Python) and embedded in every ``RunSpec`` and
``SweepSpec``, so the fields are written out in one place. Its fields are part
of the run id exactly as they were when they lived on ``RunSpec`` itself, so results written
before keep their ids.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from albench.errors import InvalidSpecError
from albench.evaluator import canonical_evaluator
from albench.scenarios import canonical, parse_scenario

#: round-0 policies that are a strategy's selection from an empty labelled set: a run's id
#: carries that strategy's revision (``albench.specs.revisions``)
STRATEGY_INITIALS = ("typiclust", "probcover", "max-herding")
#: round-0 policies (``albench.initial.INITIAL_POLICIES`` implements them)
INITIAL_POLICIES = ("random", "zero-shot-kmeans", *STRATEGY_INITIALS)
_WHOLE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Count:
    """A number of labels, absolute (``"20"``) or per class (``"2/class"``)."""

    value: int
    per_class: bool

    @classmethod
    def parse(cls, text: int | str, what: str) -> Count:
        raw = str(text).strip()
        number, per_class = raw.removesuffix("/class"), raw.endswith("/class")
        if not _WHOLE.fullmatch(number):  # str.isdigit() accepts '²', which int() refuses
            raise InvalidSpecError(
                f"{what} must be a whole number or 'k/class' (e.g. 1/class), got {raw!r}"
            )
        return cls(int(number), per_class)

    def resolve(self, n_classes: int) -> int:
        return self.value * n_classes if self.per_class else self.value

    def __str__(self) -> str:
        return f"{self.value}/class" if self.per_class else str(self.value)


@dataclass(frozen=True)
class Protocol:
    """How labels are acquired in every run of an experiment.

    ``rounds``: acquisition rounds after the initial set. ``budget``: labels per round and
    ``initial_size``: labels of the initial set, each an int or ``"k/class"`` (stored in
    canonical text form). ``initial``: a round-0 policy (:data:`INITIAL_POLICIES`).
    ``pseudo_labels``: train on the pseudo-labels a strategy proposes. ``pool_subsample``:
    use a uniform subsample of this many pool images. ``preset``: the named preset
    (:mod:`albench.presets`) the experiment started from, "" for none. ``scenario``: a
    departure from the ideal annotator (:mod:`albench.scenarios`, e.g.
    ``noisy-oracle(rate=0.2)``), "" for none. ``eval_learner``: a second learner, in the
    learner grammar, trained on every round's labels to evaluate the selections only
    (:mod:`albench.evaluator`), "" for none. ``views``: cached views per pool image that
    feature-space learners draw from while training (1: the plain features; K > 1 adds K - 1
    random-resized-crop + flip views, :mod:`albench.augmentation`); selection and
    evaluation always see the plain view.
    """

    rounds: int = 8
    budget: str = "1/class"
    initial: str = "random"
    initial_size: str = "1/class"
    pseudo_labels: bool = False
    pool_subsample: int | None = None
    preset: str = ""
    scenario: str = ""
    eval_learner: str = ""
    views: int = 1

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "budget", str(self.budget_count))
        set_(self, "initial_size", str(self.initial_count))
        if self.initial not in INITIAL_POLICIES:
            known = ", ".join(INITIAL_POLICIES)
            raise InvalidSpecError(f"unknown initial policy {self.initial!r}; known: {known}")
        if not _is_whole(self.rounds):
            raise InvalidSpecError(f"rounds must be a whole number, got {self.rounds!r}")
        if self.rounds < 1:
            raise InvalidSpecError(f"rounds must be at least 1, got {self.rounds}")
        if self.pool_subsample is not None and (
            not _is_whole(self.pool_subsample) or self.pool_subsample < 1
        ):
            raise InvalidSpecError("pool subsample must be a positive number of images")
        if not isinstance(self.pseudo_labels, bool):
            raise InvalidSpecError(
                f"pseudo_labels must be True or False, not {self.pseudo_labels!r}"
            )
        if self.budget_count.value == 0:
            raise InvalidSpecError("budget must be at least 1 label per round")
        if not isinstance(self.preset, str):
            raise InvalidSpecError(f"preset must be a preset's name, not {self.preset!r}")
        if not isinstance(self.scenario, str):
            raise InvalidSpecError(f"scenario must be a scenario spec, not {self.scenario!r}")
        set_(self, "scenario", canonical(self.scenario))
        parse_scenario(self.scenario)
        set_(self, "eval_learner", canonical_evaluator(self.eval_learner))
        if not _is_whole(self.views) or self.views < 1:
            raise InvalidSpecError(f"views must be a whole number >= 1, got {self.views!r}")

    @property
    def budget_count(self) -> Count:
        return Count.parse(self.budget, "budget")

    @property
    def initial_count(self) -> Count:
        return Count.parse(self.initial_size, "initial size")

    def sizes(self, n_classes: int) -> tuple[int, int]:
        """(initial set size, labels per round) for a task of ``n_classes`` classes."""
        return self.initial_count.resolve(n_classes), self.budget_count.resolve(n_classes)

    def identity(self) -> dict[str, Any]:
        """The fields as they enter run ids and sweep records; ``preset``, ``scenario`` and
        ``eval_learner`` only when set, and ``views`` only above 1, so the ids of runs made
        without them are those they always had."""
        fields = asdict(self)
        for optional in ("preset", "scenario", "eval_learner"):
            if not fields[optional]:
                del fields[optional]
        if fields["views"] == 1:
            del fields["views"]
        return fields


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
