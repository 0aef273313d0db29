"""Property tests: random small sweeps either finish with valid results or stop with an
AlbenchError, never another exception.

Hypothesis draws the sweep (registered strategies and wrapper specs, feature-space learners,
budgets, rounds, initial sets, seeds, pool subsamples, pseudo-labels; some of them invalid
on purpose) and the synthetic features it runs on (tests/runner_fakes.py). A finished
sweep's rows must pass the results schema and the protocol's invariants; its selections
must be disjoint, inside the (sub)sampled pool and exactly one budget per round. Prompt
learners (coop, dual-prompt) are drawn only among the invalid choices: synthetic features
have no backbone text tower, and training them would take most of this file's time.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from runner_fakes import HERE, make_inputs, spec_of

from albench.errors import AlbenchError
from albench.protocol import Protocol
from albench.results import COLUMNS, load, run_selections_path, to_table
from albench.specs import SweepSpec
from albench.strategies.registry import REGISTRY, load_plugins
from albench.sweep import run_sweep

load_plugins()
PLAIN = [name for name in REGISTRY.names() if not REGISTRY.cls(name).wraps]
WRAPPERS = [name for name in REGISTRY.names() if REGISTRY.cls(name).wraps]
PLUGINS = HERE / "bad_plugins.py"
#: (learner, options): clip-adapter trains for 20 steps instead of 200, to keep this file fast
LEARNERS = [("zero-shot", {}), ("linear", {}), ("linear", {}), ("clip-adapter", {"steps": 20})]
#: need a backbone's text tower, which synthetic features lack: they must refuse cleanly
PROMPT_LEARNERS = ["coop", "dual-prompt"]
#: strategies from tests/runner_fakes.py that pseudo-label or need a capability
FAKES = [spec_of("ConfidentPseudo"), spec_of("FirstUnlabelled")]
#: plugins that break the select contract (tests/bad_plugins.py): the run must stop cleanly
BROKEN = [f"{PLUGINS}:{name}" for name in ("Raises", "Floats", "TooFew", "Duplicates")]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny problems run fastest on one torch thread (module-scoped: Hypothesis reruns)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` nine times in ten, so that most sweeps get to run; ``invalid`` otherwise."""
    return st.sampled_from([False] * 9 + [True]).flatmap(lambda bad: invalid if bad else valid)


def _count(largest: int) -> st.SearchStrategy[str]:
    """A label count ("3", "1/class"), sometimes zero or junk."""
    number = st.integers(1, largest).map(str)
    per_class = st.integers(1, 2).map(lambda k: f"{k}/class")
    junk = st.sampled_from(["0", "0/class", "-1", "1.5", "x", "", "²", "2/klass"])
    return mostly(st.one_of(number, per_class), junk)


_strategy_spec = st.one_of(
    st.sampled_from(PLAIN),
    st.sampled_from(PLAIN),
    st.sampled_from(FAKES),
    st.sampled_from(BROKEN),
    st.builds(
        lambda wrapper, base, candidates: f"{wrapper}({base}{candidates})",
        st.sampled_from(WRAPPERS),
        st.sampled_from(PLAIN),
        mostly(
            st.sampled_from(["", ", candidates=2", ", candidates='all'"]),
            st.sampled_from([", candidates=0", ", candidates=-1", ", bogus=1", ", 3"]),
        ),
    ),
)

sweeps = st.fixed_dictionaries(
    {
        "strategies": st.lists(_strategy_spec, min_size=1, max_size=2, unique=True),
        "learner": mostly(
            st.sampled_from(LEARNERS),
            st.sampled_from(
                [("linear", {"bogus": 1}), ("clip-adapter", {"steps": 0})]
                + [(prompt, {}) for prompt in PROMPT_LEARNERS]
            ),
        ),
        "seeds": st.tuples(mostly(st.integers(0, 2**63 - 1), st.integers(-3, -1))),
        "rounds": mostly(st.integers(1, 3), st.integers(-1, 0)),
        "budget": _count(4),
        "initial": mostly(st.sampled_from(["random", "zero-shot-kmeans"]), st.just("kmeans")),
        "initial_size": mostly(_count(4), st.just("0")),
        "pseudo_labels": st.booleans(),
        "pool_subsample": mostly(st.none() | st.integers(24, 70), st.integers(-1, 0)),
    }
)
shapes = st.fixed_dictionaries(
    {
        "n_pool": st.integers(30, 50),
        "n_test": st.integers(4, 20),
        "n_classes": st.integers(2, 4),
        "dim": st.integers(3, 10),
    }
)


class Provider:
    """Synthetic features of one shape (picklable, as run_sweep's provider must be)."""

    def __init__(self, shape: dict[str, int]):
        self.shape = shape

    def __call__(self, dataset: str, backbone: str, data_root: str | None):
        return replace(make_inputs(dataset, backbone, **self.shape), feature_keys=("fake",))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fields=sweeps, shape=shapes)
def test_a_sweep_finishes_with_valid_results_or_stops_with_an_albench_error(fields, shape):
    with tempfile.TemporaryDirectory() as out:
        try:
            learner, options = fields["learner"]
            lists = {key: fields[key] for key in ("strategies", "seeds")}
            protocol = {
                key: value for key, value in fields.items() if key not in {*lists, "learner"}
            }
            sweep = SweepSpec(
                datasets=("blobs",),
                backbones=("fake",),
                learners=(learner,),
                learner_options=options,
                protocol=Protocol(**protocol),
                **lists,
            )
            result = run_sweep(sweep, out, inputs=Provider(shape))
        except AlbenchError as error:
            assert str(error) and "\n" not in str(error)
            event(f"refused: {type(error).__name__}")
            return
        event("finished")
        rows = result.rows
        assert list(rows.columns) == list(COLUMNS)
        assert (
            to_table(rows).num_rows == len(rows) == len(sweep.runs()) * (sweep.protocol.rounds + 1)
        )
        assert len(load(out)) == len(rows)  # what was written reads back through the schema
        for spec in sweep.runs():
            record = json.loads(run_selections_path(Path(out), spec.run_id).read_text())
            _check_run(rows[rows["run_id"] == spec.run_id], record, spec, shape)


def _check_run(rows, record, spec, shape) -> None:
    """The protocol's invariants on one finished run."""
    n_classes, n_pool = shape["n_classes"], shape["n_pool"]
    protocol = spec.protocol
    initial, budget = protocol.sizes(n_classes)
    rows = rows.sort_values("round")
    assert rows["round"].tolist() == list(range(protocol.rounds + 1))
    assert rows["n_labelled"].tolist() == [initial + r * budget for r in range(protocol.rounds + 1)]
    assert [sum(counts) for counts in rows["labelled_per_class"]] == rows["n_labelled"].tolist()
    assert all(len(counts) == n_classes for counts in rows["labelled_per_class"])
    assert rows["pool_size"].unique().tolist() == [min(n_pool, protocol.pool_subsample or n_pool)]
    assert ((rows["accuracy"] >= 0) & (rows["accuracy"] <= 1)).all()
    picks = [record["initial"], *(r["indices"] for r in record["rounds"])]
    assert [len(p) for p in picks] == [initial] + [budget] * protocol.rounds
    every = np.concatenate([np.asarray(p, dtype=np.int64) for p in picks])
    assert len(np.unique(every)) == len(every)
    assert every.size == 0 or (every.min() >= 0 and every.max() < n_pool)
    for round_, pseudo in enumerate(record["rounds"], start=1):
        assert not set(pseudo["pseudo_indices"]) & set(every[: initial + round_ * budget])
        assert len(pseudo["pseudo_indices"]) == len(pseudo["pseudo_labels"])
        assert protocol.pseudo_labels or not pseudo["pseudo_indices"]
    assert rows["n_pseudo"].iloc[0] == 0
