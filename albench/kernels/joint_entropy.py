"""Entropies of MC-dropout predictions: BALD's mutual information and BatchBALD's joint entropy.

Input is an (n, T, C) array: for n samples, the class probabilities of T sampled models
(MC-dropout passes, Gal & Ghahramani, ICML 2016), pass t being the same model for every
sample. Everything is computed in float64 with ``scipy.special.entr`` (0 log 0 = 0).

BALD (Houlsby et al. 2011, arXiv 1112.5745; Gal, Islam & Ghahramani, ICML 2017):

    I[y; w | x] = H[mean_t p_t(y | x)] - mean_t H[p_t(y | x)]

BatchBALD (Kirsch, van Amersfoort & Gal, NeurIPS 2019, eq. 9-12): the joint mutual
information of a batch, I[y_1..y_n; w] = H[y_1..y_n] - sum_i mean_t H[p_t(y_i)], where the
joint entropy sums over label configurations y_1..y_n with p(y_1..y_n) = mean_t prod_i
p_t(y_i). :class:`BatchJoint` holds p_t(configuration) for the configurations of the
batch chosen so far, and gives the joint entropy of that batch with each candidate added.
The configurations are enumerated (C^n of them) while C^n <= ``max_configurations``, and
sampled above that, as ``BlackHC/batchbald_redux`` (``joint_entropy.py``,
``DynamicJointEntropy``) does: S = M // T configurations drawn from each model, weighted
by importance 1 / (S T q(y)) with q(y) = mean_t p_t(y).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import entr

from albench.arrays import is_tensor
from albench.kernels.blocks import row_blocks


def conditional_entropy(mc: np.ndarray) -> np.ndarray:
    """(n, T, C) -> (n,) mean over passes of each pass's entropy, E_w H[y | x, w]."""
    return entr(np.asarray(mc, dtype=np.float64)).sum(axis=2).mean(axis=1)


def predictive_entropy(mc: np.ndarray) -> np.ndarray:
    """(n, T, C) -> (n,) entropy of the mean prediction, H[y | x]."""
    return entr(np.asarray(mc, dtype=np.float64).mean(axis=1)).sum(axis=1)


def mutual_information(mc: np.ndarray | Any) -> np.ndarray | Any:
    """(n, T, C) -> (n,) BALD scores I[y; w | x] (>= 0 up to round-off); the float64 copy
    of ``mc`` made once for both terms (it is the size of the input, times two). A torch
    tensor (a GPU run's passes) is scored on its own device, also in float64, and the
    scores come back as a tensor there."""
    if is_tensor(mc):
        return _tensor_mutual_information(mc)
    mc = np.asarray(mc, dtype=np.float64)
    return predictive_entropy(mc) - conditional_entropy(mc)


def _tensor_mutual_information(mc: Any) -> Any:
    """:func:`mutual_information` in torch: the same float64 terms in the same order (the
    logarithms of CUDA and of the CPU's libm may differ in the last of 53 bits)."""
    import torch  # only tensor inputs get here

    mc = mc.to(torch.float64)
    predictive = torch.special.entr(mc.mean(dim=1)).sum(dim=1)
    return predictive - torch.special.entr(mc).sum(dim=2).mean(dim=1)


class BatchJoint:
    """Label configurations of a growing batch and their probability under each model.

    ``probs[m, t]`` = p_t(configuration m); exact enumeration while the batch has
    C^n <= ``max_configurations`` configurations, importance samples above that. Once
    sampled, a configuration drawn from model t is extended by a label drawn from model t
    for each new member, so every configuration stays a draw from p_t(y_1..y_n): the law of
    the reference's fresh draw at every step, at O(M T) per member instead of O(n M T).
    """

    def __init__(
        self, n_models: int, n_classes: int, max_configurations: int, rng: np.random.Generator
    ):
        self.n_models, self.n_classes = int(n_models), int(n_classes)
        self.max_configurations = int(max_configurations)
        self.rng = rng
        self.probs = np.ones((1, self.n_models))
        self.members: list[np.ndarray] = []
        #: sampled configurations per model (rows t*S to (t+1)*S came from model t); 0: exact
        self.per_model = 0

    @property
    def exact(self) -> bool:
        return self.per_model == 0

    def add(self, mc: np.ndarray) -> None:
        """Add a member to the batch: its (T, C) probabilities under each model."""
        mc = np.asarray(mc, dtype=np.float64)
        self.members.append(mc)
        if not self.exact:
            self._extend(mc)
        elif self.n_classes ** len(self.members) <= self.max_configurations:
            self.probs = (self.probs[:, None, :] * mc.T[None, :, :]).reshape(-1, self.n_models)
        else:
            self.per_model = max(1, self.max_configurations // self.n_models)
            self.probs = np.ones((self.per_model * self.n_models, self.n_models))
            for member in self.members:
                self._extend(member)

    def _extend(self, mc: np.ndarray) -> None:
        """Draw each configuration's label for ``mc`` from the model that drew it."""
        size = self.per_model
        uniform = self.rng.random(self.probs.shape[0])
        labels = np.empty(self.probs.shape[0], dtype=np.int64)
        for t in range(self.n_models):
            rows = slice(t * size, (t + 1) * size)
            cdf = np.cumsum(mc[t])
            labels[rows] = np.searchsorted(cdf, uniform[rows] * cdf[-1], side="right")
        self.probs *= mc[:, np.minimum(labels, self.n_classes - 1)].T

    def weights(self) -> np.ndarray:
        """(M,) 1 per enumerated configuration, 1 / (M q) per sampled one."""
        if self.exact:
            return np.ones(self.probs.shape[0])
        q = self.probs.mean(axis=1)
        return np.divide(1.0, q.size * q, out=np.zeros_like(q), where=q > 0)

    def entropies(self, candidates: np.ndarray) -> np.ndarray:
        """(b, T, C) candidates -> (b,) H[y_1..y_n, y] of the batch with each candidate."""
        candidates = np.asarray(candidates, dtype=np.float64)
        weights = self.weights()
        out = np.empty(candidates.shape[0])
        for start, stop in row_blocks(candidates.shape[0], self.probs.shape[0]):
            total = np.zeros(stop - start)
            for c in range(self.n_classes):
                joint = self.probs @ (candidates[start:stop, :, c].T / self.n_models)
                total += weights @ entr(joint, out=joint)
            out[start:stop] = total
        return out
