"""What a learner (or the runner) can hand to a strategy: the capability names and value types.

A strategy declares the capabilities it ``needs``; a learner declares the ones it provides;
the runner checks the two against each other before a run starts and serves each one lazily
through :class:`~albench.strategies.base.StrategyContext`. This module is the one place
both sides take the names from, so neither package imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: (N, C) class probabilities of the learner on the pool (``learner.predict_proba``)
PROBABILITIES = "probabilities"
#: the pool's cached backbone image features, provided by the runner
IMAGE_FEATURES = "image_features"
#: last-layer gradient-embedding factors for BADGE, a :class:`GradEmbedding`
GRAD_EMBEDDING = "grad_embedding"
#: the learner's own sample embedding (the classifier's input)
EMBED = "embed"
#: (C, d) class text embeddings, provided by the runner
TEXT_EMBEDDINGS = "text_embeddings"
#: (N,) the learner's probability that its predicted label is correct (dual-prompt)
CORRECTNESS_PROB = "correctness_prob"
#: the learner's last layer acting on ``embed``, a :class:`LinearHead`
LINEAR_HEAD = "linear_head"
#: (N, T, C) class probabilities of T Monte-Carlo dropout passes (Gal & Ghahramani, ICML
#: 2016), pass t being one dropout mask shared by every row (one sampled model), so joint
#: quantities over several samples (BatchBALD) are well defined; ``samples=T`` is asked for
MC_PROBABILITIES = "mc_probabilities"

#: every capability a strategy may need
CAPABILITIES = (
    PROBABILITIES,
    IMAGE_FEATURES,
    GRAD_EMBEDDING,
    EMBED,
    TEXT_EMBEDDINGS,
    CORRECTNESS_PROB,
    LINEAR_HEAD,
    MC_PROBABILITIES,
)
#: what the runner itself provides, whatever the learner
RUNNER_CAPABILITIES = frozenset({IMAGE_FEATURES, TEXT_EMBEDDINGS})
#: outputs that describe the classes or the model, not the pool's rows: a context that shows a
#: strategy part of the pool shares them as they are
ROW_FREE_CAPABILITIES = frozenset({TEXT_EMBEDDINGS, LINEAR_HEAD})


@dataclass(frozen=True)
class GradEmbedding:
    """Factors of BADGE gradient embeddings: g_i = (p_i - onehot(argmax p_i)) (x) x_i.

    ``scale``: (N, C) = p - onehot(argmax p); ``x``: (N, h) the last layer's input. The
    N x (C*h) outer products are never materialised: ||g_i - g_j||^2 factorises into
    ||a_i||^2 ||x_i||^2 + ||a_j||^2 ||x_j||^2 - 2 (a_i . a_j)(x_i . x_j).
    """

    scale: np.ndarray
    x: np.ndarray

    def __getitem__(self, rows: np.ndarray) -> GradEmbedding:
        """The factors of ``rows`` only."""
        return GradEmbedding(scale=self.scale[rows], x=self.x[rows])


@dataclass(frozen=True)
class LinearHead:
    """A learner's last layer: ``probabilities = softmax(z @ weight.T + bias)`` for ``z`` in
    the learner's ``embed`` space.

    ``weight``: (C, h); ``bias``: (C,). Strategies that probe the classifier around a
    sample (DropQuery's dropout on features, ALFA-Mix's interpolations) apply it to
    perturbed embeddings instead of asking the learner for every perturbation.
    """

    weight: np.ndarray
    bias: np.ndarray

    def logits(self, z: np.ndarray) -> np.ndarray:
        """(n, h) embeddings -> (n, C) logits, in float64."""
        return np.asarray(z, dtype=np.float64) @ self.weight.T.astype(np.float64) + self.bias

    def predict(self, z: np.ndarray) -> np.ndarray:
        """(n, h) embeddings -> (n,) predicted class (ties: the lower class)."""
        return np.argmax(self.logits(z), axis=1)

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """(n, h) embeddings -> (n, C) softmax probabilities."""
        logits = self.logits(z)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
