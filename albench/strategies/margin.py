"""Smallest margin between the two most probable classes (Scheffer et al., IDA 2001)."""

from __future__ import annotations

import numpy as np

from albench.strategies.scored import ScoredStrategy, as_tensor


class Margin(ScoredStrategy):
    """Queries the samples with the smallest top-1 minus top-2 probability.

    The score is the negated margin, so higher means more uncertain. With a single class
    the runner-up probability is 0.
    """

    name = "margin"
    reference = (
        "Scheffer, Decomain & Wrobel, Active Hidden Markov Models for Information "
        "Extraction, IDA 2001"
    )

    scores_tensors = True

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        import torch

        p = as_tensor(probabilities)
        if p.shape[1] < 2:
            return -p[:, 0].double().cpu().numpy()
        top_two = torch.topk(p, 2, dim=1, sorted=True).values.double()
        return (top_two[:, 1] - top_two[:, 0]).cpu().numpy()
