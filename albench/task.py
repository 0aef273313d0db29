"""The task a run works on: its inputs seen through the protocol's scenario.

The runner and the sweep's size checks both ask here, so a scenario that shrinks the pool
or drops classes is checked against the pool and classes the run will really have.
"""

from __future__ import annotations

import numpy as np

from albench.inputs import RunInputs
from albench.kernels import unit_rows
from albench.scenarios import Task, World, parse_scenario
from albench.specs import RunSpec


def world_of(spec: RunSpec, inputs: RunInputs) -> World:
    """What the spec's scenarios draw from: the inputs' labels, seed and zero-shot model."""

    def zero_shot(rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """CLIP's zero-shot probabilities of pool ``rows`` over dataset ``classes``."""
        text = np.asarray(inputs.text_embeddings, dtype=np.float32)[classes]
        logits = float(inputs.logit_scale) * unit_rows(inputs.pool_features[rows]) @ text.T
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    return World(
        dataset=spec.dataset,
        seed=int(spec.seed),
        pool_labels=np.asarray(inputs.pool_labels, dtype=np.int64),
        test_labels=np.asarray(inputs.test_labels, dtype=np.int64),
        n_classes=inputs.n_classes,
        class_names=tuple(inputs.class_names),
        zero_shot=zero_shot,
    )


def task_of(spec: RunSpec, inputs: RunInputs, *, annotated: bool = True) -> Task:
    """The run's task: the ideal one without a scenario; ``annotated=False`` shapes the pool
    and classes only (enough for sizes, and cheaper)."""
    world = world_of(spec, inputs)
    scenarios = parse_scenario(spec.protocol.scenario)
    return Task.ideal(world) if scenarios is None else scenarios.task(world, annotated=annotated)
