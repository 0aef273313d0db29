"""Uncertainty Herding: kernel herding weighted by the learner's uncertainty (Bae et al., 2025).

Bae, Oliveira & Sutherland, "Uncertainty Herding: One Active Learning Method for All Label
Budgets" (ICLR 2025, arXiv 2412.20644); reference code: github.com/BorealisAI/uherding,
``deep-al/pycls/al/uherding.py`` (class ``UHerding``), ``deep-al/pycls/calibration/
temperature_scaling.py`` and the temperature step of ``deep-al/tools/train_al.py``.

Uncertainty coverage weighs MaxHerding's kernel coverage by how uncertain the learner is on
each sample: UCov(S) = (1/N) sum_i u_i max_{s in S} k(x_i, s), k(x, y) = exp(-||x - y||^2 /
h^2) on L2-normalised image features. Each greedy step adds the unlabelled sample with the
largest gain ``mean_i u_i max(0, k(x_i, c) - m_i)`` (:func:`albench.kernels.max_herding`
with ``weights``, lazy greedy without the reference's N x N matrix). As the reference:

* u_i is ``1 - (p_1 - p_2)`` of the temperature-scaled probabilities (``uncertainty=
  "margin"``, the ``uherding_margin`` of its README); ``"entropy"`` and
  ``"least-confidence"`` (``1 - p_1``) are its other measures. Labelled samples weigh 0;
  with no labelled sample every weight is 1, which is MaxHerding.
* ``temperature="calibrated"`` picks T from 1.0 to 19.9 in steps of 0.1 (the reference's
  grid) minimising the expected calibration error with C equal-width bins (its ``ECELoss``
  with ``n_bins = num_classes``), the lowest T on ties; a number fixes T. Scaling
  ``log p`` by 1/T is scaling the logits, since they differ by a per-row constant.
* ``bandwidth="adaptive"`` sets h to the smallest distance between two labelled samples
  (its ``ADAPTIVE_DELTA``: the kernel narrows as labels accumulate, moving the method from
  coverage towards uncertainty); with fewer than two distinct labelled samples h is 1, the
  reference's fixed default, which a number sets instead.

Differences, by necessity or choice: the reference calibrates T on a second model trained on
70% of the labelled set and scored on the other 30%; a strategy cannot refit the learner,
so albench scores the current learner on the whole labelled set, in-sample (a model is
rarely overconfident on its own training rows, so this leans to T near 1). Distances under
1e-6 count as duplicates when h is adapted (the reference drops exact zeros). The
reference's log transform of u (``UNC_TRANS_FN``, off by default) and its other kernels are
not offered; entropy uses 0 log 0 = 0 where the reference adds 1e-8 inside the log. The
reference's random subset of ``compute_cand_size(|L|, B, 35000)`` unlabelled rows is drawn
(from the strategy's rng) only when more than ``max_pool`` rows (default 35,000) are
unlabelled, as in :mod:`albench.strategies.max_herding`; uncertainty and coverage are then
those of the labelled set plus the drawn rows, as in the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from albench import kernels
from albench.arrays import host, is_tensor
from albench.calibration import expected_calibration_error
from albench.capabilities import IMAGE_FEATURES, PROBABILITIES
from albench.errors import InvalidSpecError
from albench.kernels.blocks import row_blocks
from albench.strategies import pool_sample
from albench.strategies.base import Selection, Strategy, StrategyContext
from albench.strategies.entropy import Entropy
from albench.strategies.least_confidence import LeastConfidence
from albench.strategies.margin import Margin
from albench.strategies.max_herding import MAX_POOL, herding_sample
from albench.strategies.ranking import n_picks

#: the reference's temperature grid (``np.arange(1.0, 20, 0.1)``)
TEMPERATURES = np.arange(1.0, 20, 0.1)
#: the reference's fixed bandwidth, used until two distinct samples are labelled
DEFAULT_BANDWIDTH = 1.0
#: distances below this count as duplicate samples when the bandwidth is adapted
DUPLICATE_DISTANCE = 1e-6
#: the reference's uncertainty measures, by albench's name: the scores of albench's own
#: strategies, margin as 1 - (p1 - p2) so that it stays a non-negative weight
UNCERTAINTIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "margin": lambda p: 1.0 + Margin().score(p),
    "entropy": Entropy().score,
    "least-confidence": LeastConfidence().score,
}


def temperature_scaled(probabilities: np.ndarray | Any, temperature: float) -> np.ndarray | Any:
    """softmax(log p / T) in float64: the probabilities of the logits divided by T (a torch
    tensor, a GPU run's block, is scaled on its device)."""
    if is_tensor(probabilities):
        logits = probabilities.double().log() / temperature
        scaled = (logits - logits.amax(dim=1, keepdim=True)).exp()
        return scaled / scaled.sum(dim=1, keepdim=True)
    with np.errstate(divide="ignore"):
        logits = np.log(np.asarray(probabilities, dtype=np.float64)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def calibrated_temperature(probabilities: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """The grid temperature of least ECE (C bins) on these rows; the lowest on ties."""
    errors = [
        expected_calibration_error(temperature_scaled(probabilities, t), labels, bins=n_classes)
        for t in TEMPERATURES
    ]
    return float(TEMPERATURES[int(np.argmin(errors))])


def smallest_distance(x: np.ndarray) -> float | None:
    """Smallest Euclidean distance between two rows of ``x`` that are not duplicates (None
    when there is no such pair), in row blocks: no len(x) x len(x) matrix."""
    x = np.asarray(x, dtype=np.float64)
    sq = (x * x).sum(axis=1)
    smallest = np.inf
    for lo, hi in row_blocks(len(x), len(x)):
        d2 = np.maximum(sq[lo:hi, None] + sq[None, :] - 2.0 * x[lo:hi] @ x.T, 0.0)
        d2 = d2[d2 > DUPLICATE_DISTANCE**2]
        if d2.size:
            smallest = min(smallest, float(d2.min()))
    return float(np.sqrt(smallest)) if np.isfinite(smallest) else None


def _positive_or(value: float | str, word: str, option: str) -> float | str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value != word and not (number and value > 0):
        raise InvalidSpecError(
            f"uncertainty-herding {option} is {word!r} or a number > 0, not {value!r}"
        )
    return value if value == word else float(value)


class UncertaintyHerding(Strategy):
    """``uncertainty-herding(uncertainty="margin", temperature="calibrated",
    bandwidth="adaptive")``: greedy uncertainty coverage over the pool's image features."""

    name = "uncertainty-herding"
    category = "uncertainty + representativeness"
    reference = (
        "Bae, Oliveira & Sutherland, Uncertainty Herding: One Active Learning Method for All "
        "Label Budgets, ICLR 2025 (arXiv:2412.20644)"
    )
    needs = frozenset({IMAGE_FEATURES, PROBABILITIES})
    revision = 2  # 2: lazy greedy re-evaluates stale gains in batches (other rounding)

    def __init__(
        self,
        *,
        uncertainty: str = "margin",
        temperature: float | str = "calibrated",
        bandwidth: float | str = "adaptive",
        max_pool: int = MAX_POOL,
    ):
        if uncertainty not in UNCERTAINTIES:
            raise InvalidSpecError(
                f"uncertainty-herding uncertainty is one of {sorted(UNCERTAINTIES)}, "
                f"not {uncertainty!r}"
            )
        self.uncertainty = uncertainty
        self.temperature = _positive_or(temperature, "calibrated", "temperature")
        self.bandwidth = _positive_or(bandwidth, "adaptive", "bandwidth")
        self.max_pool = pool_sample.check_max_pool(self.name, max_pool)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        k = n_picks(budget, ctx.unlabelled.size)
        sample = herding_sample(ctx, k, self.max_pool, rng, (PROBABILITIES,))
        if sample is not None:
            return sample.lift(self.select_all(sample.ctx, budget))
        return self.select_all(ctx, budget)

    def select_all(self, ctx: StrategyContext, budget: int) -> Selection:
        """Greedy uncertainty coverage over every row of ``ctx``."""
        pool = ctx.unlabelled
        x = kernels.unit_rows(ctx.features)
        weights, temperature = self.weights(ctx)
        bandwidth = self.kernel_bandwidth(x[ctx.labelled])
        picks, gains = kernels.max_herding(
            ctx.on_device(x), ctx.labelled, pool, n_picks(budget, pool.size), bandwidth, weights
        )
        info = {"temperature": temperature, "bandwidth": bandwidth}
        return Selection(indices=pool[picks], scores=gains, info=info)

    def weights(self, ctx: StrategyContext) -> tuple[np.ndarray | None, float | None]:
        """(N,) uncertainty of each pool row (0 when labelled) and the temperature used;
        (None, None) with no labelled sample, where every row weighs 1."""
        if ctx.labelled.size == 0:
            return None, None
        temperature = self.temperature
        if temperature == "calibrated":  # on the labelled rows: a few, scored on the host
            known = ctx.per_row(PROBABILITIES, ctx.labelled, ctx.n_classes, host, on_device=True)
            temperature = calibrated_temperature(known, ctx.labelled_labels, ctx.n_classes)
        measure = UNCERTAINTIES[self.uncertainty]
        rows = np.arange(ctx.n_pool)
        weights = ctx.per_row(
            PROBABILITIES,
            rows,
            ctx.n_classes,
            lambda p: measure(temperature_scaled(p, temperature)),
            on_device=True,
        )
        weights[ctx.labelled] = 0.0
        return np.maximum(weights, 0.0), float(temperature)

    def kernel_bandwidth(self, labelled_x: np.ndarray) -> float:
        """h: the fixed number, or the smallest labelled distance (1 until there is one)."""
        if self.bandwidth != "adaptive":
            return float(self.bandwidth)
        smallest = smallest_distance(labelled_x)
        return DEFAULT_BANDWIDTH if smallest is None else smallest
