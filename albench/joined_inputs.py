"""A run's inputs when its scenario draws pool images from another dataset.

``open-set(source=DATASET)`` mixes another dataset's pool images into the run's pool. Rather
than teach the runner a second pool, the inputs it is given are joined here: the source's
pool rows (its cached features, encoded by the run's backbone) are appended to the
dataset's pool with the label :data:`~albench.scenarios.OUTSIDE`, while the classes, text
embeddings and test split stay the dataset's own. The scenario's ``mix`` step then draws
the foreign rows exactly as it draws held-out images, and the runner's open-set machinery
(wasted queries, the pool view) applies unchanged; ``runner.run(spec, inputs)`` still loads
nothing. A joined pool is a copy of both pools, made once per process and pair of inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from albench.errors import FeatureError, InvalidSpecError
from albench.inputs import RunInputs
from albench.scenarios import OUTSIDE, scenario_sources
from albench.specs import RunSpec

#: (dataset, backbone, data_root) -> that dataset's inputs (the sweep's provider)
Provider = Callable[[str, str, "str | None"], RunInputs]


def spec_inputs(spec: RunSpec, provider: Provider) -> RunInputs:
    """The inputs ``spec``'s run works on: its dataset's, with the pool of every source
    dataset of its scenario appended (:func:`join_pool`)."""
    return join_sources(spec, provider(spec.dataset, spec.backbone, spec.data_root), provider)


def join_sources(spec: RunSpec, inputs: RunInputs, provider: Provider) -> RunInputs:
    """``inputs`` (of ``spec``'s dataset) joined by the pool of every source dataset of its
    scenario; ``inputs`` itself when the scenario draws from none."""
    for source in scenario_sources(spec.protocol.scenario):
        if source == spec.dataset:
            raise InvalidSpecError(
                f"open-set(source={source}): the source is the task's own dataset; hold out "
                "some of its classes with classes= instead"
            )
        inputs = join_pool(inputs, provider(source, spec.backbone, spec.data_root), source)
    return inputs


def join_pool(inputs: RunInputs, foreign: RunInputs, source: str) -> RunInputs:
    """``inputs`` whose pool ends with every pool row of ``foreign`` (dataset ``source``),
    labelled OUTSIDE; kept for the process, so a sweep joins each pair once."""
    key = (id(inputs), id(foreign))
    if key not in _JOINED:
        _JOINED[key] = (inputs, foreign, _join(inputs, foreign, source))
    return _JOINED[key][2]


def _join(inputs: RunInputs, foreign: RunInputs, source: str) -> RunInputs:
    dim, foreign_dim = np.shape(inputs.pool_features)[1], np.shape(foreign.pool_features)[1]
    if dim != foreign_dim:
        raise FeatureError(
            f"open-set(source={source}): its features have dimension {foreign_dim}, the "
            f"task's {dim}; a source must be encoded by the same backbone"
        )
    if inputs.views != foreign.views:
        raise FeatureError(
            f"open-set(source={source}): its pool has {foreign.views} views per image, the "
            f"task's {inputs.views}"
        )
    n_foreign = len(foreign.pool_labels)
    pool_views = (
        None
        if inputs.pool_views is None
        else np.concatenate([inputs.pool_views, np.asarray(foreign.pool_views)])
    )
    return replace(
        inputs,
        pool_features=np.concatenate([inputs.pool_features, foreign.pool_features]),
        pool_labels=np.concatenate(
            [np.asarray(inputs.pool_labels, dtype=np.int64), np.full(n_foreign, OUTSIDE)]
        ),
        feature_keys=inputs.feature_keys + foreign.feature_keys,
        images=_joined_images(inputs, foreign),
        pool_views=pool_views,
    )


def _joined_images(inputs: RunInputs, foreign: RunInputs) -> Callable[[str], Any] | None:
    """The image splits behind the joined features (the pool: the dataset's, then the
    source's), for learners that train on pixels; None when either holds features only."""
    if inputs.images is None or foreign.images is None:
        return None
    mine, theirs = inputs.images, foreign.images

    def images(which: str) -> Any:
        return JoinedSplit(mine(which), theirs(which)) if which == "pool" else mine(which)

    return images


class JoinedSplit:
    """Two image splits read as one: item i of the first, then those of the second."""

    def __init__(self, first: Any, second: Any):
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, index: int) -> Any:
        n_first = len(self.first)
        return self.first[index] if index < n_first else self.second[index - n_first]


#: (id of the dataset's inputs, id of the source's) -> (both, kept alive, and the join)
_JOINED: dict[tuple[int, int], tuple[RunInputs, RunInputs, RunInputs]] = {}
