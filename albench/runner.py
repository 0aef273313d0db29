"""One active-learning run: initial set, then R rounds of fit -> evaluate -> select -> label.

A :class:`~albench.specs.RunSpec` names everything that defines a result; its hash is the
run id. The round loop works on the cached features it is given
(:class:`~albench.inputs.RunInputs`: from the feature cache, or injected by tests and
notebooks) and loads nothing itself. Row r of the result describes the model trained on the
labels available after r acquisitions; round 0 is the initial set.

Randomness comes from named streams of ``albench.seeding``. The initial set and the pool
subsample depend only on (dataset, seed, policy, size), and the learner's stream only on
(dataset, seed, round), so every strategy of a sweep starts from the same labelled set and
the same round-0 model: per-seed comparisons are paired.

With ``views`` K > 1 in the protocol, a learner's ``fit`` gets the labelled rows as
:class:`~albench.learners.views.FeatureViews` (their K cached views), while strategies and
evaluation see the plain features (view 0) only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from albench.calibration import expected_calibration_error
from albench.capabilities import (
    CORRECTNESS_PROB,
    EMBED,
    GRAD_EMBEDDING,
    MC_PROBABILITIES,
    PROBABILITIES,
    RUNNER_CAPABILITIES,
    TEXT_EMBEDDINGS,
)
from albench.errors import CapabilityError, InvalidSpecError
from albench.evaluator import Evaluator, split_evaluator
from albench.guard import SelectGuard
from albench.guard import SelectionError as SelectionError  # re-exported: run() raises it
from albench.initial import INITIAL_POLICIES
from albench.inputs import RunInputs
from albench.kernels import unit_rows
from albench.kernels._tensor import exact_float32, tensor_view, to_device
from albench.learners import Learner, LearnerContext, check_learner, learner_info, make_learner
from albench.learners.catalog import LearnerInfo
from albench.learners.images import ImageRows, split_rows
from albench.learners.views import FeatureViews
from albench.metrics import worst_class_accuracy
from albench.pool_view import PoolView
from albench.provenance import provenance
from albench.results import COLUMNS
from albench.scenarios import OUTSIDE
from albench.seeding import stream
from albench.specs import RunSpec
from albench.stop_signals import StopSignals
from albench.stopping import stop_rounds_json
from albench.strategies import Strategy, StrategyContext, get_strategy
from albench.task import task_of

#: capabilities whose output is one row per pool sample (computable on any rows alone)
ROW_CAPABILITIES = frozenset(
    {PROBABILITIES, CORRECTNESS_PROB, EMBED, MC_PROBABILITIES, GRAD_EMBEDDING}
)
#: learner method that computes each capability on the pool (default: the capability's name)
_METHODS = {PROBABILITIES: "predict_proba"}
#: the learner that stands in while nothing is labelled (no labels, nothing to fit)
FALLBACK_LEARNER = "zero-shot"


# --------------------------------------------------------------------------- checks


def check_spec(spec: RunSpec) -> Strategy:
    """Names, learner options and capabilities, checked before any work; the strategy."""
    strategy = get_strategy(spec.strategy)
    learner_cls = check_learner(spec.learner, spec.learner_options)
    if spec.protocol.eval_learner:
        check_learner(*split_evaluator(spec.protocol.eval_learner))
    missing = strategy.required_capabilities() - RUNNER_CAPABILITIES - learner_cls.capabilities
    if missing:
        raise CapabilityError(
            f"strategy {spec.strategy!r} needs {', '.join(sorted(missing))}, which learner "
            f"{spec.learner!r} does not provide (it provides "
            f"{', '.join(sorted(learner_cls.capabilities))})"
        )
    _check_switches(spec, strategy, learner_cls.info)
    if spec.protocol.initial_count.value == 0:
        fallback = learner_info(FALLBACK_LEARNER).capabilities
        missing = strategy.required_capabilities() - RUNNER_CAPABILITIES - fallback
        if missing:
            raise CapabilityError(
                f"strategy {spec.strategy!r} needs {', '.join(sorted(missing))} in round 1, "
                f"but with an empty initial set the {FALLBACK_LEARNER} classifier stands in "
                "for the learner; use a non-zero --initial-size"
            )
    return strategy


def _check_switches(spec: RunSpec, strategy: Strategy, info: LearnerInfo) -> None:
    """CapabilityError when the strategy needs a capability that an option of the learner
    turns on (``dropout`` for ``mc_probabilities``) and the spec leaves it off."""
    needs = strategy.required_capabilities() - RUNNER_CAPABILITIES
    off = sorted(needs - info.provides(spec.learner_options))
    if off:
        capability, switch = off[0], info.switches[off[0]]
        raise CapabilityError(
            f"strategy {spec.strategy!r} needs {capability}, which learner {spec.learner!r} "
            f"provides only with {switch.option} > 0; set e.g. "
            f"{spec.learner}({switch.option}={switch.example})"
        )


def check_sizes(spec: RunSpec, n_pool: int, n_classes: int) -> tuple[int, int]:
    """(initial size, budget) in labels; InvalidSpecError if the pool cannot supply them."""
    protocol = spec.protocol
    initial, budget = protocol.sizes(n_classes)
    pool = min(n_pool, protocol.pool_subsample or n_pool)
    needed = initial + protocol.rounds * budget
    if needed > pool:
        raise InvalidSpecError(
            f"{spec.dataset}: {initial} initial + {protocol.rounds} rounds x {budget} labels = "
            f"{needed} exceeds the pool of {pool} images"
        )
    return initial, budget


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class RunResult:
    """Rows (one per round, :data:`albench.results.COLUMNS`) and the selections record."""

    rows: pd.DataFrame
    selections: dict[str, Any]


def _method(learner: Learner, capability: str) -> Callable[[Any], Any]:
    """The learner method that computes ``capability`` on the rows it is given."""
    return getattr(learner, _METHODS.get(capability, capability))


def _providers(learner: Learner, pool: Any, text: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Lazy pool outputs of ``learner``: only what the strategy asks for is computed."""
    providers = {cap: partial(_method(learner, cap), pool) for cap in learner.capabilities}
    providers[TEXT_EMBEDDINGS] = lambda: text
    return providers


def _on_pool_rows(pool: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of the pool rows whose indices it is given (options passed through); a
    pool on a device is indexed there (the strategies' index arrays are read-only numpy)."""
    if isinstance(pool, torch.Tensor):
        return lambda rows, **options: method(pool[tensor_view(rows).to(pool.device)], **options)
    return lambda rows, **options: method(pool[rows], **options)


def _row_providers(learner: Learner, pool: Any) -> dict[str, Callable[..., Any]]:
    """The learner's row-wise outputs on chosen pool rows, for blocked strategies."""
    capabilities = ROW_CAPABILITIES & learner.capabilities
    return {cap: _on_pool_rows(pool, _method(learner, cap)) for cap in capabilities}


def _device_row_providers(learner: Learner, pool: Any) -> dict[str, Callable[..., Any]]:
    """The row-wise outputs the learner can give as tensors on the run's device."""
    computed = learner.device_outputs()
    capabilities = computed.keys() & learner.capabilities
    return {cap: _on_pool_rows(pool, computed[cap]) for cap in capabilities}


def subsample_pool(spec: RunSpec, n_pool: int) -> np.ndarray:
    """Pool indices the run uses: all, or a uniform subsample seeded by (dataset, seed)."""
    size = spec.protocol.pool_subsample
    if size is None or size >= n_pool:
        return np.arange(n_pool, dtype=np.int64)
    rng = stream(spec.seed, "subsample", spec.dataset, str(size))
    return np.sort(rng.choice(n_pool, size=size, replace=False)).astype(np.int64)


def run(spec: RunSpec, inputs: RunInputs, *, sweep: str = "") -> RunResult:
    """Perform one run on ``inputs`` (``albench.inputs.load_inputs`` gives the cached
    features of the spec's data); names, options and capabilities are checked first."""
    strategy = check_spec(spec)
    state = _RunState(spec, inputs, strategy)
    rows = []
    for round_ in range(spec.protocol.rounds + 1):
        select_seconds = state.acquire(round_) if round_ > 0 else float("nan")
        rows.append({"round": round_, "select_seconds": select_seconds, **state.fit(round_)})
    constant = {
        "sweep": sweep,
        "run_id": spec.run_id,
        "dataset": spec.dataset,
        "backbone": spec.backbone,
        "learner": spec.learner,
        "strategy": spec.strategy,
        "seed": int(spec.seed),
        "n_classes": state.n_classes,
        "initial": spec.protocol.initial,
        "budget": spec.protocol.budget,
        "rounds": spec.protocol.rounds,
        "scenario": spec.protocol.scenario,
        "pool_size": len(state.pool_y),
        "test_size": len(state.test_y),
        "hyperparameters": json.dumps(state.learner.hyperparameters(), sort_keys=True, default=str),
        "eval_learner": spec.protocol.eval_learner,
        **provenance(inputs.device),
    }
    frame = pd.DataFrame([{**constant, **row} for row in rows])
    frame["stop_rounds"] = stop_rounds_json(frame)
    return RunResult(rows=frame[list(COLUMNS)], selections=state.selections())


class _RunState:
    """The evolving state of one run: labelled set, pseudo-labels, current model."""

    def __init__(self, spec: RunSpec, inputs: RunInputs, strategy: Strategy):
        self.spec, self.inputs, self.strategy = spec, inputs, strategy
        self.task = task_of(spec, inputs)  # the scenario's classes, pool, test and annotator
        self.subset = self.task.pool[subsample_pool(spec, len(self.task.pool))]
        self.n_classes = self.task.n_classes
        self.n_initial, self.budget = check_sizes(spec, len(self.task.pool), self.n_classes)
        self.pool_x = unit_rows(inputs.pool_features[self.subset])
        self.pool_y = self.task.labels[self.subset]
        self.revealed_y = self.task.revealed[self.subset]
        self.test_x = unit_rows(inputs.test_features[self.task.test])
        self.test_y = self.task.test_labels
        self.text = np.asarray(inputs.text_embeddings, dtype=np.float32)[self.task.classes]
        self.train_x = self._views(spec, inputs)
        context = LearnerContext(
            class_names=tuple(np.asarray(inputs.class_names)[self.task.classes].tolist()),
            text_embeddings=self.text,
            logit_scale=float(inputs.logit_scale),
            backbone=inputs.backbone,
            device=inputs.device,
        )
        self.learner = make_learner(spec.learner, context, spec.learner_options)
        self.fallback = make_learner(FALLBACK_LEARNER, context, {})
        evaluator = spec.protocol.eval_learner
        self.evaluator = Evaluator(evaluator, context, self.fallback) if evaluator else None
        self.pool_rows, self.test_rows = self._image_rows(spec, inputs)
        self.model: Learner = self.fallback
        protocol = spec.protocol
        initial_rng = stream(
            spec.seed,
            "initial",
            spec.dataset,
            protocol.initial,
            protocol.initial_size,
            str(len(self.subset)),
        )
        initial_policy = INITIAL_POLICIES[protocol.initial]
        with exact_float32():  # a cold start that runs a strategy selects as its rounds do
            self.initial = initial_policy(
                self.pool_x,
                self.n_initial,
                initial_rng,
                self.n_classes,
                device=self.inputs.device,
                device_features=self._device_pool,
            )
        self.labelled = self.wasted = np.zeros(0, dtype=np.int64)
        self._annotate(self.initial)
        unlabelled = np.setdiff1d(np.arange(len(self.subset)), self.initial)
        stop_rng = stream(spec.seed, "stop-set", spec.dataset, str(len(self.subset)))
        self.signals = StopSignals(unlabelled, len(self.subset), self.n_classes, stop_rng)
        self.strategy_rng = stream(spec.seed, "strategy", spec.dataset, spec.strategy)
        self.guard = SelectGuard(
            strategy, spec.strategy, spec.run_id, len(self.pool_y), self.n_classes
        )
        self.pseudo_idx = self.pseudo_y = np.zeros(0, dtype=np.int64)
        self.records: list[dict[str, Any]] = []

    def _image_rows(self, spec: RunSpec, inputs: RunInputs) -> tuple[Any, Any]:
        """Pool and test rows with their images, for a learner that trains on pixels (else
        None). Pool row r is image ``subset[r]`` of the pool split, as its features are."""
        if not (self.learner.needs_images or (self.evaluator and self.evaluator.needs_images)):
            return None, None
        if inputs.images is None:
            raise CapabilityError(
                f"learner {spec.learner!r} with these options trains on images, but the run's "
                "inputs hold features only (no images)"
            )
        n_pool, n_test = len(inputs.pool_labels), len(inputs.test_labels)
        pool = split_rows(inputs.images, "pool", n_pool, self.pool_x, self.subset)
        test = split_rows(inputs.images, "test", n_test, self.test_x, self.task.test)
        return pool, test

    def _views(self, spec: RunSpec, inputs: RunInputs) -> np.ndarray | FeatureViews:
        """The pool rows learners train on: the plain features, or with K views per image
        the plain features and the augmented views beside them."""
        if spec.protocol.views != inputs.views:
            raise InvalidSpecError(
                f"the run asks for {spec.protocol.views} views per pool image but its inputs "
                f"hold {inputs.views}; load them with views={spec.protocol.views}"
            )
        if inputs.pool_views is None:
            return self.pool_x
        return FeatureViews(self.pool_x, inputs.pool_views, self.subset)

    def _seen(
        self, model: Learner | None = None
    ) -> tuple[np.ndarray | ImageRows, np.ndarray | ImageRows]:
        """Pool and test rows as ``model`` (default: the current model) takes them: cached
        features, or ImageRows for a learner that trains on images (strategies keep
        ``pool_x``)."""
        if (self.model if model is None else model).needs_images:
            return self.pool_rows, self.test_rows
        return self.pool_x, self.test_x

    def _annotate(self, queried: np.ndarray) -> None:
        """Queried samples join the labelled set, or the wasted queries when the annotator
        has no label for them (outside an open-set task)."""
        outside = self.revealed_y[queried] == OUTSIDE
        self.labelled = np.concatenate([self.labelled, queried[~outside]])
        self.wasted = np.concatenate([self.wasted, queried[outside]])

    @cached_property
    def _device_pool(self) -> Any:
        """The pool's features on the run's device, copied there once per run (None on the
        CPU): the learner's device outputs read their rows from it rather than from host
        memory every round."""
        if self.inputs.device == "cpu":
            return None
        return to_device(self.pool_x, self.inputs.device)

    def _pool_in(self, view: PoolView) -> tuple[Any, Any, Any]:
        """The pool rows of ``view`` as the current model takes them (features or images),
        where its device outputs read them (the features on the run's device, for a model
        that takes features), and the features on the device (None on the CPU)."""
        pool = view.of(self._seen()[0])
        if self._device_pool is None:
            return pool, pool, None
        features = view.of(self._device_pool)
        return pool, features if isinstance(pool, np.ndarray) else pool, features

    def _probabilities_of(self) -> Callable[[np.ndarray], Any]:
        """The current model's probabilities on chosen pool rows: computed and kept on the
        run's device when the model can, else its numpy ``predict_proba``."""
        pool, device_rows, _ = self._pool_in(PoolView())
        device_form = _device_row_providers(self.model, device_rows)
        if self._device_pool is not None and PROBABILITIES in device_form:
            return device_form[PROBABILITIES]
        return _on_pool_rows(pool, self.model.predict_proba)

    def acquire(self, round_: int) -> float:
        """Let the strategy pick ``budget`` samples with the current model; seconds taken.
        Strategies see the pool without the wasted queries (:mod:`albench.pool_view`)."""
        view = PoolView.without(self.wasted, len(self.pool_y))
        pool, device_rows, device_features = self._pool_in(view)
        ctx = StrategyContext(
            features=view.of(self.pool_x),
            labelled=view.local(self.labelled),
            labelled_labels=self.revealed_y[self.labelled],
            n_classes=self.n_classes,
            providers=_providers(self.model, pool, self.text),
            row_providers=_row_providers(self.model, pool),
            device_row_providers=_device_row_providers(self.model, device_rows),
            device=self.inputs.device,
            device_features=device_features,
        )
        with exact_float32():
            picked = self.guard.select(ctx, self.budget, self.strategy_rng, round_)
        queried = view.pool(picked.indices)
        self._annotate(queried)
        if self.spec.protocol.pseudo_labels:  # the proposals on samples that are not annotated
            proposed = view.pool(picked.pseudo_indices)
            keep = ~np.isin(proposed, np.concatenate([self.labelled, self.wasted]))
            self.pseudo_idx, self.pseudo_y = proposed[keep], picked.pseudo_labels[keep]
        self.records.append(
            {
                "round": round_,
                "indices": self.subset[queried].tolist(),
                "pseudo_indices": self.subset[self.pseudo_idx].tolist(),
                "pseudo_labels": self.pseudo_y.tolist(),
                "info": picked.info,
            }
        )
        return picked.seconds

    def fit(self, round_: int) -> dict[str, Any]:
        """Fit this round's model on labels (+ pseudo-labels) and score it on the test split."""
        train_idx = np.concatenate([self.labelled, self.pseudo_idx])
        train_y = np.concatenate([self.revealed_y[self.labelled], self.pseudo_y])
        self.model = self.learner if len(train_idx) else self.fallback
        rng = stream(self.spec.seed, "learner", self.spec.dataset, str(round_))
        start = time.perf_counter()
        pool, test = self._seen()
        train = pool if self.model.needs_images else self.train_x
        self.model.fit(train[train_idx], train_y, rng)
        train_seconds = time.perf_counter() - start
        probabilities = self.model.predict_proba(test)
        predicted = probabilities.argmax(axis=1)
        n_pseudo = len(self.pseudo_idx)
        correct = self.pool_y[self.pseudo_idx] == self.pseudo_y
        return {
            "n_labelled": len(self.labelled) + len(self.wasted),
            "n_pseudo": n_pseudo,
            "n_wasted_queries": len(self.wasted),
            "n_wrong_labels": int(
                np.count_nonzero(self.revealed_y[self.labelled] != self.pool_y[self.labelled])
            ),
            "pseudo_accuracy": float(correct.mean()) if n_pseudo else float("nan"),
            "accuracy": float(accuracy_score(self.test_y, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(self.test_y, predicted)),
            "worst_class_accuracy": worst_class_accuracy(self.test_y, predicted, self.n_classes),
            "ece": expected_calibration_error(probabilities, self.test_y),
            "labelled_per_class": np.bincount(
                self.pool_y[self.labelled], minlength=self.n_classes
            ).tolist(),
            "train_seconds": train_seconds,
            **self.signals.measure(
                self._probabilities_of(), np.concatenate([self.labelled, self.wasted])
            ),
            "eval_accuracy": self._evaluate(round_),
        }

    def _evaluate(self, round_: int) -> float:
        """The evaluation learner's test accuracy, fitted on this round's annotated labels
        (``albench.evaluator``); NaN without one."""
        if self.evaluator is None:
            return float("nan")
        model = self.evaluator.model(len(self.labelled))
        pool, test = self._seen(model)
        train = pool if model.needs_images else self.train_x  # the selector's views too
        rng = stream(self.spec.seed, "learner", self.spec.dataset, str(round_))
        labels = self.revealed_y[self.labelled]
        return self.evaluator.score(model, train[self.labelled], labels, test, self.test_y, rng)

    def selections(self) -> dict[str, Any]:
        """The selections record, in indices of the full pool."""
        return {
            "run_id": self.spec.run_id,
            "spec": self.spec.identity(),
            "initial": self.subset[self.initial].tolist(),
            "rounds": self.records,
        }
