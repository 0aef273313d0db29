"""The strategy contract, checked for every registered strategy, plugins and wrappers included.

Each strategy sees a synthetic pool through a :class:`StrategyContext` whose learner
capabilities come from a fake that derives everything from the features alone; the true
labels of unlabelled samples are never handed to the context, and a guard walks everything
reachable from the context to prove it.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from albench.capabilities import CAPABILITIES, GradEmbedding, LinearHead
from albench.strategies import REGISTRY, Strategy, StrategyContext, get_strategy, load_plugins

N_POOL, DIM, N_CLASSES = 48, 6, 4


class FakeLearner:
    """Every learner capability, computed from features only (never from labels)."""

    def __init__(self, rng: np.random.Generator):
        self.text = rng.normal(size=(N_CLASSES, DIM))
        self.text /= np.linalg.norm(self.text, axis=1, keepdims=True)
        self.projection = rng.normal(size=(DIM, 3))
        self.head = LinearHead(4.0 * rng.normal(size=(N_CLASSES, 3)), np.zeros(N_CLASSES))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = 4.0 * features @ self.text.T
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def mc_probabilities(self, features: np.ndarray, samples: int) -> np.ndarray:
        """(N, samples, C): pass t keeps the feature coordinates of a fixed random mask."""
        masks = np.random.default_rng(17).random((samples, DIM)) >= 0.5
        return np.stack([self.probabilities(features * 2.0 * m) for m in masks], axis=1)

    def providers(self, features: np.ndarray) -> dict[str, Callable[..., Any]]:
        p = functools.partial(self.probabilities, features)
        return {
            "mc_probabilities": functools.partial(self.mc_probabilities, features),
            "probabilities": p,
            "grad_embedding": lambda: GradEmbedding(
                p() - np.eye(N_CLASSES)[p().argmax(axis=1)], features.copy()
            ),
            "embed": lambda: features @ self.projection,
            "text_embeddings": lambda: self.text.copy(),
            "correctness_prob": lambda: p().max(axis=1),
            "linear_head": lambda: self.head,
        }


class Pool:
    """Clustered unit-norm features with true labels kept outside any context."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.labels = rng.permutation(np.arange(N_POOL) % N_CLASSES)
        centres = rng.normal(size=(N_CLASSES, DIM)) * 2.0
        x = centres[self.labels] + rng.normal(size=(N_POOL, DIM))
        self.features = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
        self.learner = FakeLearner(rng)

    def context(self, labelled: np.ndarray, labelled_labels: np.ndarray | None = None):
        labelled = np.asarray(labelled, dtype=np.int64)
        given = self.labels[labelled] if labelled_labels is None else labelled_labels
        return StrategyContext(
            features=self.features,
            labelled=labelled,
            labelled_labels=np.asarray(given, dtype=np.int64),
            n_classes=N_CLASSES,
            providers=self.learner.providers(self.features),
        )


def _specs() -> list[str]:
    load_plugins()
    names = REGISTRY.names()
    plain = [n for n in names if not REGISTRY.cls(n).wraps]
    wrapped = [f"{w}({n})" for w in names if REGISTRY.cls(w).wraps for n in plain]
    return plain + wrapped


SPECS = _specs()
LABELLED = np.array([0, 5, 9, 14, 22, 31, 40, 47])


def _strategy(spec: str) -> Strategy:
    strategy = get_strategy(spec)
    missing = strategy.required_capabilities() - set(CAPABILITIES)
    if missing:
        pytest.skip(f"{spec} needs capabilities albench does not define: {sorted(missing)}")
    return strategy


def _assert_valid(indices: np.ndarray, ctx: StrategyContext, expected: int) -> None:
    indices = np.asarray(indices)
    assert indices.dtype.kind in "iu"
    assert indices.shape == (expected,)
    assert np.unique(indices).size == expected
    assert np.isin(indices, ctx.unlabelled).all()


def test_fake_provides_every_capability():
    providers = Pool().learner.providers(Pool().features)
    assert set(CAPABILITIES) - {"image_features"} <= set(providers)


def test_registry_holds_the_built_ins_and_the_example_plugin():
    expected = {"random", "entropy", "margin", "least-confidence", "coreset", "badge"}
    expected |= {"typiclust", "probcover", "pcb", "power-margin"}
    assert expected <= set(REGISTRY.names())


@pytest.mark.parametrize("name", REGISTRY.names())
def test_metadata_is_complete(name):
    cls = REGISTRY.cls(name)
    assert cls.name == name and cls.category and cls.reference
    assert set(cls.needs) <= set(CAPABILITIES)


@pytest.mark.parametrize("spec", SPECS)
def test_selects_budget_unique_unlabelled(spec):
    pool = Pool()
    ctx = pool.context(LABELLED)
    selection = _strategy(spec).select(ctx, 7, np.random.default_rng(3))
    _assert_valid(selection.indices, ctx, 7)
    if selection.scores is not None:
        assert np.shape(selection.scores) == (7,)


@pytest.mark.parametrize("spec", SPECS)
def test_same_seed_same_selection(spec):
    pool = Pool()
    first = _strategy(spec)
    runs = [first.select(pool.context(LABELLED), 6, np.random.default_rng(11)) for _ in range(2)]
    fresh = _strategy(spec).select(pool.context(LABELLED), 6, np.random.default_rng(11))
    np.testing.assert_array_equal(runs[0].indices, runs[1].indices)
    np.testing.assert_array_equal(runs[0].indices, fresh.indices)


@pytest.mark.parametrize("spec", SPECS)
def test_empty_labelled_set(spec):
    ctx = Pool().context(np.zeros(0, dtype=np.int64))
    selection = _strategy(spec).select(ctx, 5, np.random.default_rng(0))
    _assert_valid(selection.indices, ctx, 5)


@pytest.mark.parametrize("spec", SPECS)
def test_budget_larger_than_pool_takes_everything(spec):
    ctx = Pool().context(LABELLED)
    selection = _strategy(spec).select(ctx, N_POOL + 10, np.random.default_rng(0))
    _assert_valid(selection.indices, ctx, N_POOL - LABELLED.size)


@pytest.mark.parametrize("spec", SPECS)
def test_zero_budget_selects_nothing(spec):
    ctx = Pool().context(LABELLED)
    selection = _strategy(spec).select(ctx, 0, np.random.default_rng(0))
    assert np.asarray(selection.indices).size == 0


@pytest.mark.parametrize("spec", SPECS)
def test_single_class_present(spec):
    pool = Pool()
    labelled = np.flatnonzero(pool.labels == 2)[:5]
    ctx = pool.context(labelled)
    assert set(ctx.labelled_labels.tolist()) == {2}
    selection = _strategy(spec).select(ctx, 6, np.random.default_rng(0))
    _assert_valid(selection.indices, ctx, 6)


# --- no access to the labels of unlabelled samples -------------------------------------


def _reachable(obj: Any, seen: set[int] | None = None, depth: int = 0) -> Iterator[Any]:
    """Every object reachable from ``obj`` through attributes, closures and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8 or isinstance(obj, (type, types.ModuleType)):
        return
    seen.add(id(obj))
    yield obj
    children: list[Any] = []
    if isinstance(obj, dict):
        children += list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children += list(obj)
    elif isinstance(obj, functools.partial):
        children += [obj.func, *obj.args, *obj.keywords.values()]
    elif isinstance(obj, types.FunctionType):
        children += [c.cell_contents for c in obj.__closure__ or () if _has_contents(c)]
        children += list(obj.__defaults__ or ())
    elif isinstance(obj, types.MethodType):
        children += [obj.__self__, obj.__func__]
    elif isinstance(obj, np.ndarray):
        children += [obj.base] if obj.base is not None else []
    if hasattr(obj, "__dict__") and not isinstance(obj, types.FunctionType):
        children += list(vars(obj).values())
    for attribute in getattr(type(obj), "__slots__", ()):
        children += [getattr(obj, attribute, None)]
    for child in children:
        yield from _reachable(child, seen, depth + 1)


def _has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _leaks(obj: Any, labels: np.ndarray, unlabelled: np.ndarray) -> list[str]:
    """Reachable arrays that hold the pool's true labels (whole, or the unlabelled part)."""
    hidden = labels[unlabelled]
    found = []
    for item in _reachable(obj):
        if isinstance(item, np.ndarray) and item.ndim == 1 and item.size:
            values = np.asarray(item)
            if np.array_equal(values, labels) or np.array_equal(values, hidden):
                found.append(f"array of shape {values.shape} ({values.dtype})")
    return found


def _public_values(ctx: StrategyContext) -> list[Any]:
    values = [getattr(ctx, name) for name in dir(ctx) if not name.startswith("_")]
    values += [ctx.get(c, **_OPTIONS.get(c, {})) for c in CAPABILITIES if ctx.has(c)]
    return values


#: options of the capabilities that take some
_OPTIONS = {"mc_probabilities": {"samples": 3}}


def test_leak_guard_catches_labels_hidden_in_a_provider():
    pool = Pool()
    ctx = pool.context(LABELLED)
    labels = pool.labels.copy()
    ctx._providers["sneaky"] = lambda: labels.astype(np.float64)
    assert _leaks(ctx, pool.labels, ctx.unlabelled)
    hidden = pool.labels[ctx.unlabelled].copy()
    ctx2 = pool.context(LABELLED)
    ctx2.extra = {"cache": [hidden]}
    assert _leaks(ctx2, pool.labels, ctx2.unlabelled)


@pytest.mark.parametrize("spec", SPECS)
def test_context_exposes_no_unlabelled_labels(spec):
    pool = Pool()
    ctx = pool.context(LABELLED)
    strategy = _strategy(spec)
    strategy.select(ctx, 5, np.random.default_rng(0))
    assert not _leaks(ctx, pool.labels, ctx.unlabelled)
    assert not _leaks(_public_values(ctx), pool.labels, ctx.unlabelled)
    assert not _leaks(strategy, pool.labels, ctx.unlabelled)
