"""The acquisition contract: ``Strategy.select(ctx, budget, rng) -> Selection``.

A strategy sees the pool only through :class:`StrategyContext`: image features, the current
learner's outputs on the pool, the labelled and unlabelled index arrays, and the labels of
the labelled set. Labels of unlabelled samples are never reachable from the context.

Strategies register themselves by subclassing :class:`Strategy` with a ``name``; third-party
strategies register through the ``albench.strategies`` entry-point group (see
``albench.strategies.registry``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from albench.arrays import host, is_tensor
from albench.capabilities import (
    IMAGE_FEATURES,
    PROBABILITIES,
    ROW_FREE_CAPABILITIES,
    GradEmbedding,
)


@dataclass(frozen=True)
class Selection:
    """What a strategy returns.

    ``indices``: pool indices to annotate (unique, unlabelled), in the order picked.
    ``scores``: the score that ranked each pick (same length) or None.
    ``pseudo_indices`` / ``pseudo_labels``: optional pseudo-labels proposed by the strategy
    (never counted as annotation budget). ``info``: free-form diagnostics, JSON-serialisable.
    """

    indices: np.ndarray
    scores: np.ndarray | None = None
    pseudo_indices: np.ndarray | None = None
    pseudo_labels: np.ndarray | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


class StrategyContext:
    """Read-only view of the pool for one acquisition step.

    Learner outputs are computed lazily and cached, so the runner only pays for what the
    strategy asks for. ``providers`` maps a capability name to a function that computes it
    on the whole pool (taking the capability's options as keywords, if it has any, such as
    ``samples`` of ``mc_probabilities``); ``row_providers`` may map an array-valued
    capability to a function of pool row indices (and the same keywords), so that
    :meth:`blocks` never holds the whole (N, C) matrix (a pool of ImageNet's size has
    1.28M x 1,000 probabilities: 5 GB of float32). ``device``: where the run computes
    (``cpu``, ``cuda[:N]``); strategies hand the selection kernels :meth:`on_device` inputs,
    so a run on a GPU selects there. ``device_row_providers`` map a capability to a function
    of row indices giving its output as tensors already on that device (the learner's
    :meth:`~albench.learners.base.Learner.device_outputs`): blocks asked for ``on_device``
    then never pass through host memory; ``device_features``: ``features`` already there
    (the runner copies the pool once per run), which :meth:`on_device` gives for them.
    """

    def __init__(
        self,
        *,
        features: np.ndarray,
        labelled: np.ndarray,
        labelled_labels: np.ndarray,
        n_classes: int,
        providers: Mapping[str, Callable[[], Any]] | None = None,
        row_providers: Mapping[str, Callable[..., np.ndarray]] | None = None,
        device_row_providers: Mapping[str, Callable[..., Any]] | None = None,
        device: str = "cpu",
        device_features: Any = None,
    ):
        labelled = np.asarray(labelled, dtype=np.int64)
        if labelled.shape != np.shape(labelled_labels):
            raise ValueError("labelled and labelled_labels must have the same length")
        self._features = features
        self._labelled = labelled
        self._labelled_labels = np.asarray(labelled_labels, dtype=np.int64)
        self.n_classes = int(n_classes)
        self._providers = dict(providers or {})
        self._row_providers = dict(row_providers or {})
        self._device_row_providers = dict(device_row_providers or {})
        self._device_features = device_features
        self._cache: dict[str, Any] = {}
        self.device = device
        self._labelled.setflags(write=False)
        self._labelled_labels.setflags(write=False)

    @property
    def n_pool(self) -> int:
        return int(self._features.shape[0])

    @property
    def features(self) -> np.ndarray:
        """(N, d) image features of the whole pool (float32, L2-normalised)."""
        return self._features

    @property
    def labelled(self) -> np.ndarray:
        return self._labelled

    @property
    def labelled_labels(self) -> np.ndarray:
        """Labels of ``labelled`` (same order). Unlabelled labels are not available."""
        return self._labelled_labels

    @cached_property
    def unlabelled(self) -> np.ndarray:
        mask = np.ones(self.n_pool, dtype=bool)
        mask[self._labelled] = False
        out = np.flatnonzero(mask)
        out.setflags(write=False)
        return out

    def on_device(self, array: np.ndarray) -> Any:
        """``array`` where the run computes, for the selection kernels (which compute where
        their input lives): ``array`` itself on the CPU (the kernels wrap float32 numpy
        without a copy), a float32 torch tensor on the run's device otherwise (for the
        pool's features themselves, the copy the context was given, if any)."""
        if self.device == "cpu":
            return array
        if array is self._features and self._device_features is not None:
            return self._device_features
        from albench.kernels._tensor import to_device  # only a run on a GPU gets here

        return to_device(array, self.device)

    def has(self, capability: str) -> bool:
        return capability == IMAGE_FEATURES or capability in self._providers

    def row_free_providers(self) -> dict[str, Callable[..., Any]]:
        """Providers of the outputs that do not depend on the pool's rows (class text
        embeddings, the last layer), for a context over part of this pool."""
        return {n: fn for n, fn in self._providers.items() if n in ROW_FREE_CAPABILITIES}

    def get(self, capability: str, **options: Any) -> Any:
        """The learner's output for ``capability`` on the whole pool (cached per options).

        ``options`` are passed to the learner (``samples=T`` for ``mc_probabilities``).
        """
        if capability == IMAGE_FEATURES:
            return self._features
        key = _cache_key(capability, options)
        if key not in self._cache:
            if capability not in self._providers:
                raise KeyError(f"capability {capability!r} is not provided by this learner")
            self._cache[key] = self._providers[capability](**options)
        return self._cache[key]

    def probabilities(self) -> np.ndarray:
        """(N, C) class probabilities of the current learner on the pool."""
        return self.get(PROBABILITIES)

    def on_rows(
        self, capability: str, rows: np.ndarray, *, on_device: bool = False, **options: Any
    ) -> Any:
        """The output for ``rows`` in one call: sliced from the whole pool's when that is
        already computed (or the learner has no row-wise form of it), else computed on those
        rows alone. ``options`` as in :meth:`get`; gradient-embedding factors come as
        :class:`GradEmbedding` of the rows. With ``on_device`` the output is where the run
        computes (:meth:`on_device`): numpy on the CPU, else tensors on the run's device,
        computed there when the learner can."""
        whole = self._cache.get(_cache_key(capability, options))
        if on_device and self.device != "cpu":
            compute_there = self._device_row_providers.get(capability)
            if whole is None and compute_there is not None:
                return compute_there(rows, **options)
            return self._moved(self.on_rows(capability, rows, **options))
        if whole is None and capability not in self._row_providers:
            whole = self.get(capability, **options)
        compute = self._row_providers.get(capability)
        out = whole[rows] if whole is not None else compute(rows, **options)
        return out if isinstance(out, GradEmbedding) else np.asarray(out)

    def _moved(self, output: Any) -> Any:
        """A host output (an array, or :class:`GradEmbedding` of arrays) on the run's device."""
        if isinstance(output, GradEmbedding):
            return GradEmbedding(scale=self.on_device(output.scale), x=self.on_device(output.x))
        return self.on_device(output)

    def blocks(
        self,
        capability: str,
        rows: np.ndarray,
        n_cols: int,
        *,
        on_device: bool = False,
        **options: Any,
    ) -> Iterator[tuple[np.ndarray, Any]]:
        """``(row indices, output on them)`` over ``rows``, in blocks of bounded memory.

        ``n_cols``: the size of one output row (C for probabilities, T x C for T MC
        passes), which sets the block height (``albench.kernels.blocks``). Each block is
        :meth:`on_rows` of its rows (``on_device`` as there), so nothing of size N x C stays
        unless the whole pool's output was already computed.
        """
        from albench.kernels.blocks import row_blocks

        for start, stop in row_blocks(len(rows), n_cols):
            chunk = rows[start:stop]
            yield chunk, self.on_rows(capability, chunk, on_device=on_device, **options)

    def per_row(
        self,
        capability: str,
        rows: np.ndarray,
        n_cols: int,
        fn: Callable[[Any], Any],
        *,
        on_device: bool = False,
        **options: Any,
    ) -> np.ndarray:
        """``fn`` of each block of :meth:`blocks`, its rows written into one array allocated
        before the first block (empty rows: an empty float64 array). With ``on_device``,
        ``fn`` gets the blocks where the run computes and may return a tensor there: only
        its result, one value (or a few) per row, crosses to host memory.

        Collecting the small per-block results in a list and concatenating them would keep
        one live allocation above each freed block on glibc's heap, so the heap could not
        shrink: 800 MB stayed resident after scoring a 100k x 1,000 pool in 8 MB blocks.
        """
        out: np.ndarray | None = None
        at = 0
        for chunk, block in self.blocks(capability, rows, n_cols, on_device=on_device, **options):
            result = host(fn(block))
            if out is None:
                out = np.empty((len(rows), *result.shape[1:]), dtype=result.dtype)
            out[at : at + len(chunk)] = result
            at += len(chunk)
        return out if out is not None else np.zeros(0)


def as_float64(block: Any) -> Any:
    """:meth:`StrategyContext.per_row`'s ``fn`` for an output a strategy computes on in
    float64 on the host: a numpy block converted, a device block converted there (per_row
    then brings the result over)."""
    return block.double() if is_tensor(block) else np.asarray(block, dtype=np.float64)


def _cache_key(capability: str, options: Mapping[str, Any]) -> Any:
    """One cache entry per capability and options (the bare name when there are none)."""
    return (capability, *sorted(options.items())) if options else capability


class Strategy:
    """Base class of acquisition strategies.

    Subclasses set ``name`` (registry key), ``category``, ``reference`` and ``needs``, and
    implement :meth:`select`. Subclassing registers the class (see ``registry``).
    Wrappers (e.g. ``pcb``) take the wrapped strategy as ``base`` in ``__init__``.
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    #: raised when the same spec starts to compute something else (a default or the
    #: algorithm changed), so that its runs get new ids and are never mixed with old ones
    revision: ClassVar[int] = 1
    #: True for strategies that wrap another one (``pcb(badge)``)
    wraps: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if cls.name:
            from albench.strategies.registry import REGISTRY

            REGISTRY.add(cls)

    def required_capabilities(self) -> frozenset[str]:
        """Capabilities this configured instance needs (wrappers add their base's)."""
        return frozenset(self.needs)

    def select(self, ctx: StrategyContext, budget: int, rng: np.random.Generator) -> Selection:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name or type(self).__name__
