"""One active-learning run: initial set, then R rounds of fit -> evaluate -> select -> label.

A :class:`RunSpec` names everything that defines a result; its hash is the run id. The round
loop works on cached features only (:class:`RunInputs`), which the runner loads from the
feature cache or a caller injects (tests, notebooks). Row r of the result describes the
model trained on the labels available after r acquisitions; round 0 is the initial set.

Randomness comes from named streams of ``albench.seeding``. The initial set and the pool
subsample depend only on (dataset, seed, policy, size), and the learner's stream only on
(dataset, seed, round), so every strategy of a sweep starts from the same labelled set and
the same round-0 model: per-seed comparisons are paired.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from albench.calibration import expected_calibration_error
from albench.errors import CapabilityError, FeatureError, InvalidSpecError
from albench.features import first_nonfinite_row
from albench.guard import SelectGuard
from albench.guard import SelectionError as SelectionError  # re-exported: run() raises it
from albench.initial import INITIAL_POLICIES
from albench.learners import Learner, LearnerContext, check_options, get_learner, make_learner
from albench.learners.images import ImageRows, split_rows
from albench.provenance import provenance
from albench.results import COLUMNS, spec_digest
from albench.seeding import stream
from albench.strategies import Strategy, StrategyContext, get_strategy
from albench.strategies.clustering import unit_rows

#: capabilities the runner itself provides, whatever the learner
RUNNER_CAPABILITIES = frozenset({"image_features", "text_embeddings"})
#: learner method that computes each capability on the pool (default: the capability's name)
_METHODS = {"probabilities": "predict_proba"}
#: the learner that stands in while nothing is labelled (no labels, nothing to fit)
FALLBACK_LEARNER = "zero-shot"
#: seeds are stored as Parquet int64
MAX_SEED = 2**63 - 1
_WHOLE = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class Count:
    """A number of labels, absolute (``"20"``) or per class (``"2/class"``)."""

    value: int
    per_class: bool

    @classmethod
    def parse(cls, text: int | str, what: str) -> Count:
        raw = str(text).strip()
        number, per_class = raw.removesuffix("/class"), raw.endswith("/class")
        if not _WHOLE.fullmatch(number):  # str.isdigit() accepts '²', which int() refuses
            raise InvalidSpecError(
                f"{what} must be a whole number or 'k/class' (e.g. 1/class), got {raw!r}"
            )
        return cls(int(number), per_class)

    def resolve(self, n_classes: int) -> int:
        return self.value * n_classes if self.per_class else self.value

    def __str__(self) -> str:
        return f"{self.value}/class" if self.per_class else str(self.value)


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run's result (``data_root`` only says where data is).

    ``initial``: a policy of ``albench.initial.INITIAL_POLICIES``. ``initial_size`` and
    ``budget`` (labels per round): an int or ``"k/class"``; stored in canonical text form.
    ``pseudo_labels``: train on the pseudo-labels a strategy proposes. ``pool_subsample``:
    use a uniform subsample of this many pool images. ``learner_options``: keyword options
    of the learner (``warm_start`` among them).
    """

    dataset: str
    backbone: str
    learner: str
    strategy: str
    seed: int
    rounds: int
    budget: str = "1/class"
    initial: str = "random"
    initial_size: str = "1/class"
    pseudo_labels: bool = False
    pool_subsample: int | None = None
    learner_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "budget", str(Count.parse(self.budget, "budget")))
        set_(self, "initial_size", str(Count.parse(self.initial_size, "initial size")))
        set_(self, "strategy", self.strategy.strip())
        set_(self, "learner_options", dict(self.learner_options))
        if self.initial not in INITIAL_POLICIES:
            known = ", ".join(INITIAL_POLICIES)
            raise InvalidSpecError(f"unknown initial policy {self.initial!r}; known: {known}")
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise InvalidSpecError(f"seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if int(self.rounds) < 1:
            raise InvalidSpecError(f"rounds must be at least 1, got {self.rounds}")
        if self.pool_subsample is not None and self.pool_subsample < 1:
            raise InvalidSpecError("pool subsample must be a positive number of images")
        if Count.parse(self.budget, "budget").value == 0:
            raise InvalidSpecError("budget must be at least 1 label per round")

    def identity(self) -> dict[str, Any]:
        """The fields that define the result (everything but ``data_root``)."""
        fields = asdict(self)
        fields.pop("data_root")
        return fields

    @property
    def run_id(self) -> str:
        """:func:`albench.results.spec_digest` of :meth:`identity`."""
        return spec_digest(self.identity())

    def __hash__(self) -> int:
        return hash(self.run_id)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class RunInputs:
    """Cached features a run works on.

    ``pool_features`` / ``test_features``: (N, d) image features (any float dtype; learners
    re-normalise); ``text_embeddings``: (C, d) normalised class embeddings; ``backbone``:
    only needed by prompt learners. ``images``: ``"pool"`` / ``"test"`` -> the image split
    behind those features (row i is feature row i), for learners that train on pixels
    (visual prompt tuning); None when the inputs are features only.
    """

    pool_features: np.ndarray
    pool_labels: np.ndarray
    test_features: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    text_embeddings: np.ndarray
    logit_scale: float
    backbone: Any = None
    device: str = "cpu"
    #: identities of the cached features (cache keys); a sweep refuses to resume on others
    feature_keys: tuple[str, ...] = ()
    images: Callable[[str], Any] | None = None

    def __post_init__(self) -> None:
        check_inputs(self)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def check_inputs(inputs: RunInputs) -> None:
    """FeatureError unless the arrays agree in length and dimension and are all finite.

    Features from the cache were checked when their entry was verified, but a caller may
    inject any arrays, and a NaN would otherwise surface rounds later as a learner's obscure
    error. The scan reads the arrays once per construction (once per process for a sweep).
    """
    where = f"run inputs (cache entries {', '.join(inputs.feature_keys)})"
    where = where if inputs.feature_keys else "run inputs"
    named = {
        "pool features": inputs.pool_features,
        "test features": inputs.test_features,
        "text embeddings": inputs.text_embeddings,
    }
    for name, array in named.items():
        if np.ndim(array) != 2:
            raise FeatureError(f"{where}: {name} have shape {np.shape(array)}, not (n, d)")
    dims = {name: np.shape(array)[1] for name, array in named.items()}
    if len(set(dims.values())) > 1:
        shown = ", ".join(f"{name} {dim}" for name, dim in dims.items())
        raise FeatureError(f"{where}: feature dimensions disagree ({shown})")
    for split, labels in (("pool", inputs.pool_labels), ("test", inputs.test_labels)):
        if len(labels) != len(named[f"{split} features"]):
            raise FeatureError(
                f"{where}: {len(named[f'{split} features'])} {split} features but "
                f"{len(labels)} {split} labels"
            )
    if len(inputs.class_names) != len(inputs.text_embeddings):
        raise FeatureError(
            f"{where}: {len(inputs.class_names)} classes but "
            f"{len(inputs.text_embeddings)} text embeddings"
        )
    for name, array in named.items():
        row = first_nonfinite_row(array)
        if row is not None:
            raise FeatureError(f"{where}: {name} hold NaN or inf (row {row})")


# --------------------------------------------------------------------------- checks


def check_spec(spec: RunSpec) -> Strategy:
    """Names, learner options and capabilities, checked before any work; the strategy."""
    strategy = get_strategy(spec.strategy)
    learner_cls = get_learner(spec.learner)
    check_options(spec.learner, spec.learner_options)
    missing = strategy.required_capabilities() - RUNNER_CAPABILITIES - learner_cls.capabilities
    if missing:
        raise CapabilityError(
            f"strategy {spec.strategy!r} needs {', '.join(sorted(missing))}, which learner "
            f"{spec.learner!r} does not provide (it provides "
            f"{', '.join(sorted(learner_cls.capabilities))})"
        )
    if Count.parse(spec.initial_size, "initial size").value == 0:
        fallback = get_learner(FALLBACK_LEARNER).capabilities
        missing = strategy.required_capabilities() - RUNNER_CAPABILITIES - fallback
        if missing:
            raise CapabilityError(
                f"strategy {spec.strategy!r} needs {', '.join(sorted(missing))} in round 1, "
                f"but with an empty initial set the {FALLBACK_LEARNER} classifier stands in "
                "for the learner; use a non-zero --initial-size"
            )
    return strategy


def check_sizes(spec: RunSpec, n_pool: int, n_classes: int) -> tuple[int, int]:
    """(initial size, budget) in labels; InvalidSpecError if the pool cannot supply them."""
    initial = Count.parse(spec.initial_size, "initial size").resolve(n_classes)
    budget = Count.parse(spec.budget, "budget").resolve(n_classes)
    pool = min(n_pool, spec.pool_subsample or n_pool)
    needed = initial + spec.rounds * budget
    if needed > pool:
        raise InvalidSpecError(
            f"{spec.dataset}: {initial} initial + {spec.rounds} rounds x {budget} labels = "
            f"{needed} exceeds the pool of {pool} images"
        )
    return initial, budget


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class RunResult:
    """Rows (one per round, :data:`albench.results.COLUMNS`) and the selections record."""

    rows: pd.DataFrame
    selections: dict[str, Any]


def _providers(
    learner: Learner, pool: np.ndarray, inputs: RunInputs
) -> dict[str, Callable[[], Any]]:
    """Lazy pool outputs of ``learner``: only what the strategy asks for is computed."""

    def compute(capability: str) -> Callable[[], Any]:
        method = getattr(learner, _METHODS.get(capability, capability))
        return lambda: method(pool)

    providers = {capability: compute(capability) for capability in learner.capabilities}
    providers["text_embeddings"] = lambda: inputs.text_embeddings
    return providers


def subsample_pool(spec: RunSpec, n_pool: int) -> np.ndarray:
    """Pool indices the run uses: all, or a uniform subsample seeded by (dataset, seed)."""
    if spec.pool_subsample is None or spec.pool_subsample >= n_pool:
        return np.arange(n_pool, dtype=np.int64)
    rng = stream(spec.seed, "subsample", spec.dataset, str(spec.pool_subsample))
    return np.sort(rng.choice(n_pool, size=spec.pool_subsample, replace=False)).astype(np.int64)


def run(spec: RunSpec, inputs: RunInputs | None = None, *, sweep: str = "") -> RunResult:
    """Perform one run; ``inputs`` default to the cached features of the spec's data.

    Names, options and capabilities are checked before any feature is loaded.
    """
    strategy = check_spec(spec)
    if inputs is None:
        from albench.inputs import load_inputs

        inputs = load_inputs(spec.dataset, spec.backbone, data_root=spec.data_root)
    state = _RunState(spec, inputs, strategy)
    rows = []
    for round_ in range(spec.rounds + 1):
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
        "n_classes": inputs.n_classes,
        "initial": spec.initial,
        "budget": spec.budget,
        "rounds": int(spec.rounds),
        "pool_size": len(state.pool_y),
        "test_size": len(state.test_y),
        "hyperparameters": json.dumps(state.learner.hyperparameters(), sort_keys=True, default=str),
        **provenance(inputs.device),
    }
    frame = pd.DataFrame([{**constant, **row} for row in rows])
    return RunResult(rows=frame[list(COLUMNS)], selections=state.selections())


class _RunState:
    """The evolving state of one run: labelled set, pseudo-labels, current model."""

    def __init__(self, spec: RunSpec, inputs: RunInputs, strategy: Strategy):
        self.spec, self.inputs, self.strategy = spec, inputs, strategy
        self.subset = subsample_pool(spec, len(inputs.pool_labels))
        self.n_classes = inputs.n_classes
        self.n_initial, self.budget = check_sizes(spec, len(inputs.pool_labels), self.n_classes)
        self.pool_x = unit_rows(inputs.pool_features[self.subset])
        self.pool_y = np.asarray(inputs.pool_labels, dtype=np.int64)[self.subset]
        self.test_x = unit_rows(inputs.test_features)
        self.test_y = np.asarray(inputs.test_labels, dtype=np.int64)
        context = LearnerContext(
            class_names=tuple(inputs.class_names),
            text_embeddings=np.asarray(inputs.text_embeddings, dtype=np.float32),
            logit_scale=float(inputs.logit_scale),
            backbone=inputs.backbone,
            device=inputs.device,
        )
        self.learner = make_learner(spec.learner, context, spec.learner_options)
        self.fallback = make_learner(FALLBACK_LEARNER, context, {})
        self.pool_rows, self.test_rows = self._image_rows(spec, inputs)
        self.model: Learner = self.fallback
        initial_rng = stream(
            spec.seed,
            "initial",
            spec.dataset,
            spec.initial,
            spec.initial_size,
            str(len(self.subset)),
        )
        self.labelled = INITIAL_POLICIES[spec.initial](self.pool_x, self.n_initial, initial_rng)
        self.strategy_rng = stream(spec.seed, "strategy", spec.dataset, spec.strategy)
        self.guard = SelectGuard(
            strategy, spec.strategy, spec.run_id, len(self.pool_y), self.n_classes
        )
        self.pseudo_idx = self.pseudo_y = np.zeros(0, dtype=np.int64)
        self.records: list[dict[str, Any]] = []

    def _image_rows(self, spec: RunSpec, inputs: RunInputs) -> tuple[Any, Any]:
        """Pool and test rows with their images, for a learner that trains on pixels (else
        None). Pool row r is image ``subset[r]`` of the pool split, as its features are."""
        if not self.learner.needs_images:
            return None, None
        if inputs.images is None:
            raise CapabilityError(
                f"learner {spec.learner!r} with these options trains on images, but the run's "
                "inputs hold features only (no images)"
            )
        n_pool, n_test = len(inputs.pool_labels), len(self.test_y)
        pool = split_rows(inputs.images, "pool", n_pool, self.pool_x, self.subset)
        test = split_rows(inputs.images, "test", n_test, self.test_x, np.arange(n_test))
        return pool, test

    def _seen(self) -> tuple[np.ndarray | ImageRows, np.ndarray | ImageRows]:
        """Pool and test rows as the current model takes them: cached features, or
        ImageRows for a learner that trains on images (strategies keep ``pool_x``)."""
        if self.model.needs_images:
            return self.pool_rows, self.test_rows
        return self.pool_x, self.test_x

    def acquire(self, round_: int) -> float:
        """Let the strategy pick ``budget`` samples with the current model; seconds taken."""
        ctx = StrategyContext(
            features=self.pool_x,
            labelled=self.labelled,
            labelled_labels=self.pool_y[self.labelled],
            n_classes=self.n_classes,
            providers=_providers(self.model, self._seen()[0], self.inputs),
        )
        picked = self.guard.select(ctx, self.budget, self.strategy_rng, round_)
        self.labelled = np.concatenate([self.labelled, picked.indices])
        if self.spec.pseudo_labels:  # the proposals on samples that are not annotated
            keep = ~np.isin(picked.pseudo_indices, self.labelled)
            self.pseudo_idx, self.pseudo_y = picked.pseudo_indices[keep], picked.pseudo_labels[keep]
        self.records.append(
            {
                "round": round_,
                "indices": self.subset[picked.indices].tolist(),
                "pseudo_indices": self.subset[self.pseudo_idx].tolist(),
                "pseudo_labels": self.pseudo_y.tolist(),
                "info": picked.info,
            }
        )
        return picked.seconds

    def fit(self, round_: int) -> dict[str, Any]:
        """Fit this round's model on labels (+ pseudo-labels) and score it on the test split."""
        train_idx = np.concatenate([self.labelled, self.pseudo_idx])
        train_y = np.concatenate([self.pool_y[self.labelled], self.pseudo_y])
        self.model = self.learner if len(train_idx) else self.fallback
        rng = stream(self.spec.seed, "learner", self.spec.dataset, str(round_))
        start = time.perf_counter()
        pool, test = self._seen()
        self.model.fit(pool[train_idx], train_y, rng)
        train_seconds = time.perf_counter() - start
        probabilities = self.model.predict_proba(test)
        predicted = probabilities.argmax(axis=1)
        n_pseudo = len(self.pseudo_idx)
        correct = self.pool_y[self.pseudo_idx] == self.pseudo_y
        return {
            "n_labelled": len(self.labelled),
            "n_pseudo": n_pseudo,
            "pseudo_accuracy": float(correct.mean()) if n_pseudo else float("nan"),
            "accuracy": float(accuracy_score(self.test_y, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(self.test_y, predicted)),
            "ece": expected_calibration_error(probabilities, self.test_y),
            "labelled_per_class": np.bincount(
                self.pool_y[self.labelled], minlength=self.n_classes
            ).tolist(),
            "train_seconds": train_seconds,
        }

    def selections(self) -> dict[str, Any]:
        """The selections record, in indices of the full pool."""
        return {
            "run_id": self.spec.run_id,
            "spec": self.spec.identity(),
            "initial": self.subset[self.labelled[: self.n_initial]].tolist(),
            "rounds": self.records,
        }
