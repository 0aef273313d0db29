"""BatchBALD: greedy batches of the highest joint mutual information (Kirsch et al., 2019).

"BatchBALD: Efficient and Diverse Batch Acquisition for Deep Bayesian Active Learning"
(Kirsch, van Amersfoort & Gal, NeurIPS 2019, Algorithm 1): the batch grows one sample at a
time, each time adding the sample x that maximises I[y_1..y_n, y_x; w] =
H[y_1..y_n, y_x] - sum of the members' and x's E_w H[y], with MC-dropout passes as the
posterior samples w. The first pick is BALD's. Read against ``BlackHC/batchbald_redux``,
``batchbald_redux/batchbald.py`` (``get_batchbald_batch``) and ``joint_entropy.py``
(``DynamicJointEntropy``: exact joint entropies over all C^n label configurations while
C^n <= M, importance-sampled configurations above), with ``BlackHC/BatchBALD``,
``src/multi_bald.py``, for the original. Defaults: ``samples=100`` MC passes and
``joint_samples=100000`` (M), the values of batchbald_redux's example experiment
(``num_inference_samples``, ``num_samples``); the original code takes M = 40000 // T * T.

Differences: once sampled, configurations are extended by one label per new member
(drawn from the model that drew the configuration) instead of drawn afresh at every
step: the same law at each step, at O(M T) per pick instead of O(n M T)
(:class:`albench.kernels.BatchJoint`); draws come from the run's ``rng``; probabilities in
float64 rather than log-probabilities; the pool's MC passes are recomputed in row blocks
at every greedy step instead of held as an N x T x C tensor; ties go to the lower pool
position. The original's candidate culling (``initial_percentage``, ``reduce_percentage``)
is not done (batchbald_redux does not do it either). A budget that covers the unlabelled
pool takes all of it, in pool order, without the greedy pass.
"""

from __future__ import annotations

import numpy as np

from albench import kernels
from albench.capabilities import MC_PROBABILITIES
from albench.errors import InvalidSpecError
from albench.strategies.bald import SAMPLES, check_samples
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.ranking import n_picks, top_k


class BatchBald(Strategy):
    """Greedily adds the sample that most raises the batch's joint mutual information."""

    name = "batch-bald"
    category = "uncertainty"
    reference = (
        "Kirsch, van Amersfoort & Gal, BatchBALD: Efficient and Diverse Batch Acquisition "
        "for Deep Bayesian Active Learning, NeurIPS 2019"
    )
    needs = frozenset({MC_PROBABILITIES})

    def __init__(self, *, samples: int = SAMPLES, joint_samples: int = 100_000):
        self.samples = check_samples(self.name, samples)
        if int(joint_samples) != joint_samples or joint_samples < 1:
            raise InvalidSpecError(f"batch-bald joint_samples must be >= 1, not {joint_samples!r}")
        self.joint_samples = int(joint_samples)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        pool = ctx.unlabelled
        k = n_picks(budget, pool.size)
        if k == pool.size:  # the whole pool: nothing to choose
            return Selection(indices=pool.copy(), info={"exact_picks": 0})
        joint = kernels.BatchJoint(self.samples, ctx.n_classes, self.joint_samples, rng)
        picked: list[int] = []
        scores: list[float] = []
        exact_picks = 0
        for _ in range(k):
            exact_picks += int(joint.exact)
            gains = self._gains(ctx, pool, joint)
            gains[picked] = -np.inf
            best = int(top_k(gains, 1)[0])
            picked.append(best)
            scores.append(float(gains[best]))
            joint.add(self._passes(ctx, pool[[best]])[0])
        return Selection(
            indices=pool[np.asarray(picked, dtype=np.int64)],
            scores=np.asarray(scores),
            info={"exact_picks": exact_picks},
        )

    def _passes(self, ctx: StrategyContext, rows: np.ndarray) -> np.ndarray:
        width = self.samples * ctx.n_classes
        return ctx.per_row(MC_PROBABILITIES, rows, width, np.asarray, samples=self.samples)

    def _gains(
        self, ctx: StrategyContext, pool: np.ndarray, joint: kernels.BatchJoint
    ) -> np.ndarray:
        """(len(pool),) I[batch + x; w] for every x of the pool, over row blocks."""
        members = np.asarray(joint.members).reshape(-1, self.samples, ctx.n_classes)
        shared = kernels.conditional_entropy(members).sum()
        width = self.samples * ctx.n_classes
        gains = ctx.per_row(
            MC_PROBABILITIES,
            pool,
            width,
            lambda mc: joint.entropies(mc) - kernels.conditional_entropy(mc),
            samples=self.samples,
        )
        return gains - shared
