"""Maximum predictive entropy (Shannon, 1948; as an AL baseline: Settles, 2009, sec. 3.1)."""

from __future__ import annotations

import numpy as np

from albench.strategies.scored import ScoredStrategy, as_tensor


class Entropy(ScoredStrategy):
    """Queries the samples whose predicted class distribution has the highest entropy."""

    name = "entropy"
    reference = "Settles, Active Learning Literature Survey, 2009 (sec. 3.1, entropy sampling)"

    scores_tensors = True

    def score(self, probabilities: np.ndarray) -> np.ndarray:
        """Shannon entropy of each row: ``-p log p`` in the probabilities' own precision,
        summed in float64. Probabilities come in float32 (already rounded at 6e-8), so float64
        logarithms would add cost, not accuracy: the two differ by under 3e-8 relative."""
        import torch

        p = as_tensor(probabilities)
        # -p log p of at most 64 Ki elements at a time: a block-sized temporary would add a
        # block's worth (4 MB at C = 1,000) to the peak memory of a selection
        step = max(1, (1 << 16) // max(1, p.shape[1]))
        out = torch.empty(p.shape[0], dtype=torch.float64, device=p.device)
        for start in range(0, p.shape[0], step):
            terms = torch.special.entr(p[start : start + step])
            out[start : start + step] = terms.sum(1, dtype=torch.float64)
        return out.cpu().numpy()
