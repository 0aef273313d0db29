"""Adaptation paradigms on cached features: zero-shot, linear probe, CLIP-Adapter, prompts.

``get_learner(name)`` returns a registered class; ``make_learner(name, context, options)``
builds one after checking its options.
"""

from albench.capabilities import GradEmbedding
from albench.learners.base import LEARNERS, Learner, LearnerContext
from albench.learners.images import ImageRows
from albench.learners.registry import check_options, get_learner, learner_names, make_learner

__all__ = [
    "LEARNERS",
    "GradEmbedding",
    "ImageRows",
    "Learner",
    "LearnerContext",
    "check_options",
    "get_learner",
    "learner_names",
    "make_learner",
]
