"""The learner contract: adaptation paradigms that work on cached features.

A learner is fitted from scratch on the labelled set every round (unless warm-started) and
then queried on the pool and the test split. Optional outputs are declared in
``capabilities``; a strategy that needs one the learner lacks is refused before a run starts.

A learner that runs the image encoder itself (visual prompt tuning) sets ``needs_images``;
it is then given :class:`~albench.learners.images.ImageRows` (the rows' cached features and
their images) wherever the methods below say "features".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from albench.capabilities import PROBABILITIES, GradEmbedding
from albench.learners.catalog import LearnerInfo
from albench.options import signature_options


@dataclass(frozen=True)
class LearnerContext:
    """What a learner may use besides the labelled features.

    ``text_embeddings``: (C, d) L2-normalised class embeddings from the backbone's text tower
    averaged over the dataset's prompt templates (the zero-shot classifier).
    ``logit_scale``: the backbone's temperature. ``class_names``: for prompt learners.
    ``backbone``: the backbone itself, only needed by prompt learners (text tower); None
    when a learner works from cached embeddings alone.
    """

    class_names: tuple[str, ...]
    text_embeddings: np.ndarray
    logit_scale: float
    backbone: Any = None
    device: str = "cpu"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


#: name -> learner class; filled by subclassing :class:`Learner` with a ``name``
LEARNERS: dict[str, type[Learner]] = {}


class Learner(ABC):
    """Base class of learners.

    A built-in learner sets ``info`` (its declaration in :mod:`albench.learners.catalog`),
    which gives it ``name``, ``capabilities`` and ``defaults``. A learner written in user
    code may instead set ``name`` and ``capabilities``; its options are then read from its
    constructor's keyword parameters.
    """

    info: ClassVar[LearnerInfo]
    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset({PROBABILITIES})
    defaults: ClassVar[dict[str, Any]] = {}
    #: True when the learner takes ImageRows instead of feature arrays (set per instance,
    #: as it may depend on the options)
    needs_images: bool = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("info")
        if declared is not None:
            cls.name, cls.capabilities = declared.name, declared.capabilities
            cls.defaults = declared.defaults()
        elif cls.__dict__.get("name"):
            cls.info = LearnerInfo(
                name=cls.name,
                paradigm="user-defined",
                capabilities=cls.capabilities,
                options=cls.info.options
                if hasattr(cls, "info")
                else signature_options(cls.__init__),
                reference=(cls.__doc__ or "").strip().split("\n")[0],
            )
        if cls.__dict__.get("name") or declared is not None:
            LEARNERS[cls.name] = cls

    def __init__(self, context: LearnerContext, **options: Any):
        self.context = context
        self.options = options

    @classmethod
    def check_option_values(cls, options: Mapping[str, Any]) -> None:
        """Refuse option values that cannot work here, before any run starts (default: none).

        Called with the user's options (defaults not merged) by ``check_learner``.
        """
        return None

    @abstractmethod
    def fit(self, features: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        """Fit on labelled (N, d) features and (N,) labels."""

    @abstractmethod
    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, d) features -> (N, C) class probabilities."""

    def hyperparameters(self) -> dict[str, Any]:
        """Settings recorded with every results row (epochs, lr, ...)."""
        return dict(self.options)

    def device_outputs(self) -> dict[str, Callable[..., Any]]:
        """Capability -> function of features giving that output as torch tensors on the
        run's device (a :class:`GradEmbedding` of tensors for ``grad_embedding``), for
        outputs the learner computes in torch anyway: a run on a GPU then scores them there
        instead of copying each block to host memory and back. Default: none (the strategy
        context moves the numpy outputs where the run computes)."""
        return {}

    # Optional capabilities; present only when listed in ``capabilities``.
    def grad_embedding(self, features: np.ndarray) -> GradEmbedding:
        raise NotImplementedError

    def embed(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def correctness_prob(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError
