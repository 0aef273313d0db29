"""Select with one learner, evaluate with another.

A run's learner (the *selector*) is the model the strategy queries: its outputs decide which
samples get labelled, and its test accuracy is the run's ``accuracy``. An evaluation learner
(``--eval-learner 'coop(steps=50)'``) is fitted each round on exactly the annotated labels
the selector was fitted on, as the annotator revealed them, and is only scored on the test
split (``eval_accuracy``). Pseudo-labels are left out: they are the selector's own
proposals, made with the selector's confidence, and the question asked here is what the
*annotated* set is worth to another model. Nothing the evaluator computes reaches the
strategy, so a run selects the same samples with or without one.

Why: a labelled set acquired with one model is often deployed with another (select with a
cheap linear probe, train the prompt learner that ships), and actively acquired sets do not
always transfer to such successor models (Lowell, Lipton & Wallace, "Practical Obstacles to
Deploying Active Learning", EMNLP 2019). The report's selector x evaluator AUBC matrix shows
whether they do here.

The evaluator is seeded by the same per-round learner stream as the selector, so an
evaluator equal to the selector reproduces the run's own accuracy exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from albench.errors import InvalidSpecError
from albench.learners import Learner, LearnerContext, check_options, make_learner
from albench.options import format_call, parse_call


def split_evaluator(text: str) -> tuple[str, dict[str, Any]]:
    """``"coop(steps=5)"`` -> ``("coop", {"steps": 5})``; one-line errors for the grammar."""
    call = parse_call(text, "eval learner spec")
    if call.args:
        raise InvalidSpecError(f"eval learner {call.name!r} takes options only (key=value)")
    return call.name, dict(call.options)


def canonical_evaluator(text: Any) -> str:
    """The evaluation learner spec in canonical form ("" for none), its name, option keys
    and value types checked against the learner catalog (no torch needed)."""
    if not isinstance(text, str):
        raise InvalidSpecError(f"eval_learner must be a learner spec, not {text!r}")
    if not text.strip():
        return ""
    name, options = split_evaluator(text)
    check_options(name, options)
    return format_call(name, options)


class Evaluator:
    """The evaluation learner of one run; ``fallback`` stands in while nothing is labelled,
    as it does for the selector."""

    def __init__(self, spec: str, context: LearnerContext, fallback: Learner):
        name, options = split_evaluator(spec)
        self.learner = make_learner(name, context, options)
        self.fallback = fallback

    @property
    def needs_images(self) -> bool:
        return bool(self.learner.needs_images)

    def model(self, n_labelled: int) -> Learner:
        """The learner that evaluates a round with ``n_labelled`` annotated labels."""
        return self.learner if n_labelled else self.fallback

    @staticmethod
    def score(
        model: Learner,
        train: Any,
        labels: np.ndarray,
        test: Any,
        test_labels: np.ndarray,
        rng: np.random.Generator,
    ) -> float:
        """Test accuracy of ``model`` fitted on ``train`` rows with ``labels``."""
        model.fit(train, labels, rng)
        predicted = model.predict_proba(test).argmax(axis=1)
        return float(np.mean(predicted == np.asarray(test_labels)))
