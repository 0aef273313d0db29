"""Synthetic sweep inputs and result comparison shared by the sweep tests."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
from runner_fakes import make_inputs

from albench.protocol import Protocol
from albench.specs import SweepSpec

#: columns that legitimately differ between two computations of the same run: wall times,
#: when, and the commit of the checkout (which moves if someone commits during a test)
VOLATILE = ["select_seconds", "train_seconds", "finished_at", "git_commit"]
PROTOCOL_KEYS = ("rounds", "budget", "initial", "initial_size", "pseudo_labels", "pool_subsample")


def small_sweep(**changes) -> SweepSpec:
    """Two strategies x two seeds x two rounds on the synthetic ``blobs`` / ``fake`` inputs."""
    fields = dict(
        datasets=("blobs",),
        backbones=("fake",),
        learners=("linear",),
        strategies=("random", "entropy"),
        seeds=(0, 1),
    )
    protocol = {key: changes.pop(key) for key in PROTOCOL_KEYS if key in changes}
    fields.update(changes)
    return SweepSpec(**fields, protocol=Protocol(**{"rounds": 2, **protocol}))


def stable(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows without wall times and timestamps, in a fixed order (for equality checks)."""
    return rows.drop(columns=VOLATILE).sort_values(["run_id", "round"]).reset_index(drop=True)


class CountingInputs:
    """Synthetic inputs that raise KeyboardInterrupt on call number ``stop_at``."""

    def __init__(self, stop_at: int | None = None, key: str = "features-v1"):
        self.calls, self.stop_at, self.key = 0, stop_at, key

    def __call__(self, dataset: str, backbone: str, data_root: str | None):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return replace(make_inputs(dataset, backbone), feature_keys=(self.key,))
