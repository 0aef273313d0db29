"""BALD: the samples whose label would tell most about the model (Houlsby et al., 2011).

Bayesian Active Learning by Disagreement (Houlsby, Huszár, Ghahramani & Lengyel, arXiv
1112.5745), with MC dropout as the posterior (Gal, Islam & Ghahramani, "Deep Bayesian
Active Learning with Image Data", ICML 2017): the mutual information between a sample's
label and the model, I[y; w | x] = H[mean_t p_t] - mean_t H[p_t], over T dropout passes,
and the top-B scores are queried. Read against ``BlackHC/batchbald_redux``,
``batchbald_redux/batchbald.py`` (``get_bald_batch``, ``compute_entropy``,
``compute_conditional_entropy``).

Differences: probabilities rather than log-probabilities, in float64 with 0 log 0 = 0; the
pool is scored in row blocks of T passes (never N x T x C at once); ties go to the lower
pool position (the reference leaves them to ``torch.topk``). ``samples=100`` passes as in
the BatchBALD paper's MNIST runs (``num_inference_samples`` 100 in ``BlackHC/BatchBALD``'s
``laaos_results/paper/mnist_*_k100_*`` and in batchbald_redux's example notebook).
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import MC_PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks, top_k

#: MC-dropout passes per acquisition (BatchBALD's MNIST experiments)
SAMPLES = 100


def check_samples(name: str, samples: int) -> int:
    """``samples`` as an int, or InvalidSpecError naming the strategy."""
    if int(samples) != samples or samples < 1:
        raise InvalidSpecError(f"{name} samples is a number of MC passes >= 1, not {samples!r}")
    return int(samples)


def bald_scores(ctx: StrategyContext, rows: np.ndarray, samples: int) -> np.ndarray:
    """(len(rows),) mutual information of each row, over row blocks of ``samples`` passes
    (on a GPU run computed and scored there: only the scores come to the host)."""
    width = samples * ctx.n_classes
    return ctx.per_row(
        MC_PROBABILITIES,
        rows,
        width,
        kernels.mutual_information,
        on_device=True,
        samples=samples,
    )


class Bald(Strategy):
    """Queries the samples of highest mutual information between label and model."""

    name = "bald"
    category = "uncertainty"
    reference = (
        "Houlsby et al., arXiv:1112.5745 (2011); Gal, Islam & Ghahramani, Deep Bayesian "
        "Active Learning with Image Data, ICML 2017"
    )
    needs = frozenset({MC_PROBABILITIES})

    def __init__(self, *, samples: int = SAMPLES):
        self.samples = check_samples(self.name, samples)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        scores = bald_scores(ctx, pool, self.samples)
        picked = top_k(scores, n_picks(budget, pool.size))
        return Selection(indices=pool[picked], scores=scores[picked])
