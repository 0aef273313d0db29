"""What a reader needs to rerun a report's numbers: commands, protocol, hyper-parameters.

Each sweep folder records the specs of the sweeps run into it (``sweeps/<digest>.json``,
:func:`albench.results.read_sweeps`); from a record this module writes the one
``albench run`` command that reproduces it. The learners' *effective* hyper-parameters come
from the results rows themselves (what ran, defaults included), and the protocol from the
protocol columns, so a reader sees, for instance, that a prompt learner ran 10 steps rather
than its documented default.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from albench.report.model import Section, TableBlock
from albench.report.provenance import seed_list
from albench.scenarios import NONE

#: Sweep-spec fields -> ``albench run`` flags; lists are comma-joined.
FLAGS = {
    "strategies": "--strategy", "datasets": "--dataset", "backbones": "--backbone",
    "learners": "--learner", "rounds": "--rounds", "budget": "--budget",
    "initial": "--initial", "initial_size": "--initial-size",
    "pool_subsample": "--pool-subsample", "scenario": "--scenario", "scenarios": "--scenario",
    "preset": "--protocol", "eval_learner": "--eval-learner", "views": "--views",
    "name": "--name",
}  # fmt: skip
PROTOCOL = {"initial": "initial set", "budget": "budget / round", "rounds": "rounds",
            "pool_size": "pool size", "test_size": "test size"}  # fmt: skip


def command(spec: Mapping[str, Any], out: Path | str) -> str:
    """The ``albench run`` command line that reproduces a recorded sweep ``spec`` into ``out``.

    Protocol fields may sit at the top level or in a nested ``protocol`` record.
    """
    fields = {**spec.get("protocol", {}), **spec}
    if fields.get("scenarios"):  # a list of several; the ideal annotator is spelt "none"
        fields["scenarios"] = [text or NONE for text in fields["scenarios"]]
    parts = ["albench", "run"]
    for key, flag in FLAGS.items():
        value = fields.get(key)
        if value is None or value == []:
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{flag}={text}")
    seeds = seed_list(pd.Series(fields.get("seeds", []), dtype=int)).replace("–", "-")
    parts.append(f"--seeds={seeds.replace(' ', '')}")
    for switch in ("pseudo_labels", "allow_partial", "skip_unreadable"):
        if fields.get(switch):
            parts.append("--" + switch.replace("_", "-"))
    for key, value in sorted(fields.get("learner_options", {}).items()):
        parts.append(f"--learner-option={key}={value}")
    parts.append(f"--out={out}")
    return " ".join(shlex.quote(part) for part in parts)


def commands(records: Iterable[tuple[Path, Mapping[str, Any]]], run_ids: set[str]) -> list[str]:
    """Commands of the recorded sweeps that ran any of ``run_ids`` (the ones reported)."""
    return [
        command(record["spec"], folder)
        for folder, record in records
        if run_ids & set(record.get("run_ids", ()))
    ]


def _hyperparameters(data: pd.DataFrame) -> TableBlock:
    runs = data.drop_duplicates("run_id")
    rows = runs.groupby(["learner", "hyperparameters"], sort=True)["run_id"].nunique()
    text = pd.DataFrame(
        {
            "runs": rows.astype(str).to_numpy(),
            "settings": [
                ", ".join(f"{k}={v}" for k, v in sorted(json.loads(h or "{}").items()))
                for _, h in rows.index
            ],
        },
        index=pd.Index(rows.index.get_level_values("learner")),
    )
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = "Every setting each learner ran with, defaults included, as recorded with its runs."
    return TableBlock("Learner hyper-parameters", text, highlight, "learner", caption)


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted(map(str, values.unique())))


def _protocol(data: pd.DataFrame) -> TableBlock:
    runs = data.drop_duplicates("run_id")
    columns = {key: _joined for key in PROTOCOL}
    frame = runs.groupby("env", sort=True).agg({**columns, "seed": seed_list})
    text = frame.rename(columns={**PROTOCOL, "seed": "seeds"})
    highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
    caption = "The protocol of each environment (runs are paired by seed only within one)."
    return TableBlock("Protocol", text, highlight, "environment", caption)


def reproducibility(data: pd.DataFrame, sweep_commands: Sequence[str]) -> Section:
    """Commands that reproduce the sweeps, the protocol, and learner hyper-parameters."""
    blocks = [_protocol(data), _hyperparameters(data)]
    if sweep_commands:
        text = pd.DataFrame({"command": list(sweep_commands)},
                            index=pd.RangeIndex(1, len(sweep_commands) + 1))  # fmt: skip
        highlight = pd.DataFrame(False, index=text.index, columns=text.columns)
        caption = (
            "Each recorded sweep as one command; rerunning it into the same folder recomputes "
            "nothing (finished runs are kept), into an empty one recomputes every run."
        )
        blocks.insert(0, TableBlock("Commands", text, highlight, "sweep", caption))
    return Section("Reproducibility", "", blocks)
