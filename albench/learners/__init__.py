"""Adaptation paradigms on cached features: zero-shot, linear probe, CLIP-Adapter, prompts.

``learner_info(name)`` says what a learner provides and accepts (no torch needed);
``get_learner(name)`` returns the implementing class; ``make_learner(name, context,
options)`` builds one after checking its options.
"""

from albench.learners.base import LEARNERS, Learner, LearnerContext
from albench.learners.catalog import LearnerInfo
from albench.learners.registry import (
    check_learner,
    check_options,
    get_learner,
    learner_info,
    learner_infos,
    learner_names,
    make_learner,
)

__all__ = [
    "LEARNERS",
    "Learner",
    "LearnerContext",
    "LearnerInfo",
    "check_learner",
    "check_options",
    "get_learner",
    "learner_info",
    "learner_infos",
    "learner_names",
    "make_learner",
]
