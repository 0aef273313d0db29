"""Reference accuracies for learning curves: the learner on every pool label, and zero-shot.

A learning curve is read against two lines: where the learner starts without labels
(zero-shot, from the backbone's text tower) and where it would end with the whole pool
labelled (full data). Both are ordinary runs of the runner, so they are seeded, checked and
recorded in the results schema like any other:

- full data: strategy ``random`` from an initial set of all pool images but one, one round
  of one label; its last row is the learner trained on every pool label (on the sweep's
  cached views, when it has more than one per image);
- zero-shot: the ``zero-shot`` learner, which ignores labels.

One reference per (dataset, backbone, learner with its options, seed, pool subsample), written
once to ``<sweep folder>/references/<run_id>.parquet`` and reused by every later report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from albench import results
from albench.files import atomic_path
from albench.inputs import RunInputs, load_inputs
from albench.protocol import Protocol
from albench.runner import run
from albench.scenarios import scenario_sources
from albench.specs import RunSpec, SweepSpec

REFERENCES_DIR = "references"
#: The learner of the zero-shot reference (it trains on nothing).
ZERO_SHOT = "zero-shot"


def reference_specs(
    spec: Mapping[str, Any], pool_sizes: Mapping[str, int]
) -> dict[str, list[RunSpec]]:
    """Kind ("full data", "zero-shot") -> reference runs of a recorded sweep ``spec``.

    ``pool_sizes`` maps each dataset to the pool size its runs used (after any subsample);
    datasets without one are skipped.
    """
    fields = {**spec, **spec.get("protocol", {})}  # records before the protocol record: flat
    subsample = fields.get("pool_subsample")
    learners = SweepSpec(
        datasets=tuple(fields["datasets"]),
        backbones=tuple(fields["backbones"]),
        learners=tuple(fields["learners"]),
        strategies=("random",),
        seeds=tuple(fields["seeds"]),
        learner_options=fields.get("learner_options", {}),
    ).learner_specs()
    combos = product(fields["datasets"], fields["backbones"], fields["seeds"])
    full, zero = [], []
    for dataset, backbone, seed in combos:
        if dataset not in pool_sizes:
            continue
        where = {"dataset": dataset, "backbone": backbone, "seed": seed, "strategy": "random"}
        every_label = Protocol(
            rounds=1, budget="1", initial_size=str(pool_sizes[dataset] - 1),
            pool_subsample=subsample, views=fields.get("views", 1),
        )  # fmt: skip
        full += [
            RunSpec(learner=name, learner_options=options, protocol=every_label, **where)
            for name, options in learners
        ]
        unlabelled = Protocol(rounds=1, budget="1", pool_subsample=subsample)
        zero.append(RunSpec(learner=ZERO_SHOT, protocol=unlabelled, **where))
    return {"full data": full, "zero-shot": zero}


def path(folder: Path | str, spec: RunSpec) -> Path:
    return Path(folder) / REFERENCES_DIR / f"{spec.run_id}.parquet"


def ensure(
    folder: Path | str, specs: Iterable[RunSpec], inputs: RunInputs | None = None
) -> list[Path]:
    """Compute and write every reference of ``specs`` not yet in ``folder``; their paths.

    ``inputs`` replaces the cached features of each spec's (dataset, backbone) (tests).
    """
    written = []
    for spec in dict.fromkeys(specs):
        target = path(folder, spec)
        if not target.is_file():
            given = inputs or load_inputs(spec.dataset, spec.backbone, views=spec.protocol.views)
            table = results.to_table(run(spec, given, sweep="reference").rows)
            with atomic_path(target) as temporary:
                pq.write_table(table, temporary)
        written.append(target)
    return written


def references(folder: Path | str, records: Iterable[Mapping[str, Any]], rows: pd.DataFrame,
               compute: bool = True) -> pd.DataFrame:  # fmt: skip
    """Last rows of the references of a sweep folder's ``records``, with a ``kind`` column.

    ``rows`` are the folder's results (for the pool sizes). With ``compute`` off only the
    references already written are read.
    """
    # the largest: a scenario (long tail, open set) only ever shrinks a run's pool, and the
    # references are of the ideal task; a pool joined by another dataset's images is not
    pool_sizes = _own_pools(rows).groupby("dataset")["pool_size"].max().to_dict()
    frames = []
    for record in records:
        for kind, specs in reference_specs(record["spec"], pool_sizes).items():
            paths = ensure(folder, specs) if compute else [path(folder, s) for s in specs]
            present = [p for p in paths if p.is_file()]
            if present:
                loaded = results.load(present)
                last = loaded.sort_values("round").groupby("run_id").tail(1)
                frames.append(last.assign(kind=kind))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _own_pools(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows whose pool holds images of their dataset only (no ``open-set(source=)``)."""
    if "scenario" not in rows:
        return rows
    texts = rows["scenario"].astype(object).fillna("")
    joined = {text: bool(scenario_sources(text)) for text in texts.unique()}
    return rows[~texts.map(joined).astype(bool)]
