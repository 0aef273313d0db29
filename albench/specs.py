"""What defines a run and a sweep: :class:`RunSpec` (its digest is the run id) and
:class:`SweepSpec` (lists to cross, one :class:`~albench.protocol.Protocol`).

Both are plain records that import nothing heavy, so the command line, sweep files and
notebooks build and check them in well under a second; running them is
:func:`albench.runner.run` and :func:`albench.sweep.run_sweep`.

Learners and strategies are written in one grammar (:mod:`albench.options`):
``dual-prompt(steps=10)`` is the learner ``dual-prompt`` with the option ``steps=10``. A
sweep's ``learner_options`` is a shorthand applied to every learner that declares the key
(inline options win), so ``linear`` and ``dual-prompt(steps=10)`` can share one sweep.

A sweep of several learners is a grid whose cells may be empty: a strategy that needs what a
learner cannot provide (the dual-prompt strategy needs ``correctness_prob``, which only the
dual-prompt learner has) is left out for that learner and named in
:meth:`SweepSpec.left_out`. With one learner such a pair is an error before any work.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from typing import Any

from albench.capabilities import RUNNER_CAPABILITIES
from albench.errors import InvalidSpecError
from albench.learners import learner_info, learner_names
from albench.options import format_call, is_file_spec, parse_call
from albench.protocol import STRATEGY_INITIALS, Protocol
from albench.scenarios import canonical

#: seeds are stored as Parquet int64
MAX_SEED = 2**63 - 1


def spec_digest(spec: dict[str, Any]) -> str:
    """16 hex digits of the sha256 of ``spec``'s canonical JSON (sorted keys, no spaces).

    The identity of a run (its run id) and of a sweep record: equal specs, equal digests,
    whatever the key order they were built in.
    """
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def revisions(
    learner: str, strategy: str, evaluator: str = "", initial: str = "random"
) -> dict[str, int]:
    """``{component: revision}`` of the learner, every strategy named in ``strategy``
    (wrapped ones too), the evaluation learner spec ``evaluator`` ("" for none) and the
    strategy behind the round-0 policy ``initial`` (:data:`STRATEGY_INITIALS`) whose
    behaviour changed since it was first released.

    A spec whose text stays the same but computes something else must not share its run id
    with results of the earlier behaviour, or a resumed results folder would mix the two.
    """
    from albench.strategies.registry import REGISTRY

    known = learner in learner_names()
    found = {f"learner:{learner}": learner_info(learner).revision} if known else {}
    if evaluator:
        name = parse_call(evaluator, "eval learner spec").name
        found[f"eval-learner:{name}"] = learner_info(name).revision
    if initial in STRATEGY_INITIALS:
        found[f"initial:{initial}"] = REGISTRY.cls(initial).revision
    pending = [strategy]
    while pending:
        text = pending.pop()
        if is_file_spec(text):
            continue
        call = parse_call(text, "strategy spec")
        if call.name in REGISTRY:
            found[f"strategy:{call.name}"] = REGISTRY.cls(call.name).revision
        pending += call.args
    return {name: number for name, number in sorted(found.items()) if number > 1}


def split_learner(text: str) -> tuple[str, dict[str, Any]]:
    """``"coop(steps=50)"`` -> ``("coop", {"steps": 50})``; a learner wraps nothing."""
    call = parse_call(text, "learner spec")
    if call.args:
        raise InvalidSpecError(f"learner {call.name!r} takes options only (key=value): {text!r}")
    return call.name, dict(call.options)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run's result (``data_root`` only says where data is).

    ``learner`` may carry its options inline (``"coop(steps=5)"``); they are moved into
    ``learner_options``, so both forms give one spec and one run id.
    """

    dataset: str
    backbone: str
    learner: str
    strategy: str
    seed: int
    protocol: Protocol = field(default_factory=Protocol)
    learner_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        name, inline = split_learner(self.learner)
        clash = sorted(k for k in inline if self.learner_options.get(k, inline[k]) != inline[k])
        if clash:
            raise InvalidSpecError(f"learner option {clash[0]!r} given twice with two values")
        set_(self, "learner", name)
        set_(self, "learner_options", {**self.learner_options, **inline})
        set_(self, "strategy", self.strategy.strip())
        if not 0 <= int(self.seed) <= MAX_SEED:
            raise InvalidSpecError(f"seed must be between 0 and {MAX_SEED}, got {self.seed!r}")

    def identity(self) -> dict[str, Any]:
        """The fields that define the result: everything but ``data_root``, the protocol's
        fields at the top level (as they were before the protocol was a record of its own,
        so that the run ids of earlier results are unchanged), and the :func:`revisions`
        of its components when any is past its first."""
        fields = {
            "dataset": self.dataset,
            "backbone": self.backbone,
            "learner": self.learner,
            "strategy": self.strategy,
            "seed": self.seed,
            **self.protocol.identity(),
            "learner_options": dict(self.learner_options),
        }
        changed = revisions(
            self.learner, self.strategy, self.protocol.eval_learner, self.protocol.initial
        )
        return {**fields, "revisions": changed} if changed else fields

    @property
    def run_id(self) -> str:
        """:func:`spec_digest` of :meth:`identity`."""
        return spec_digest(self.identity())

    @property
    def learner_spec(self) -> str:
        """The learner in the option grammar, e.g. ``dual-prompt(steps=10)``."""
        return format_call(self.learner, self.learner_options)

    def __hash__(self) -> int:
        return hash(self.run_id)


def sweep_name(*parts: Iterable[str]) -> str:
    """A folder-safe sweep name: each part's values joined by ``+``, parts by ``-``."""
    slugs = (re.sub(r"[^A-Za-z0-9._+-]+", "_", "+".join(values)).strip("_") for values in parts)
    return "-".join(slugs)


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: lists to cross, and the protocol shared by all its runs.

    ``learners`` and ``strategies`` are specs in the option grammar. ``learner_options``
    apply to every learner that declares the key (a key no learner declares is an error).
    ``data_root``, ``download`` and ``device`` say where data is and runs compute; they are
    not part of the sweep's identity. ``allow_partial`` / ``skip_unreadable`` accept a copy
    of a dataset that differs from its spec, or leave out images that do not decode; they
    enter the sweep's record when set, and the feature cache keys show the data used.
    ``scenarios``: scenarios to cross (:mod:`albench.scenarios`, "" or ``none`` for the
    ideal annotator); one scenario is stored as the protocol's own, so a sweep of one
    scenario has the record and run ids it always had.
    """

    datasets: tuple[str, ...]
    backbones: tuple[str, ...]
    learners: tuple[str, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    protocol: Protocol = field(default_factory=Protocol)
    learner_options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    data_root: str | None = None
    download: bool = False
    device: str = "cpu"
    allow_partial: bool = False
    skip_unreadable: bool = False
    scenarios: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for what in ("datasets", "backbones", "learners", "strategies", "seeds"):
            values = getattr(self, what)
            if isinstance(values, str) or not values:
                raise InvalidSpecError(f"a sweep needs a list of at least one of {what}")
            set_(self, what, tuple(dict.fromkeys(values)))
        set_(self, "learner_options", dict(self.learner_options))
        names = [split_learner(text)[0] for text in self.learners]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise InvalidSpecError(
                f"learner {twice[0]!r} appears twice with different options; results are "
                "grouped by learner name, so run each setting as a sweep of its own"
            )
        self._check_shorthand()
        self._fold_scenarios()
        if not self.name:
            set_(self, "name", sweep_name(self.datasets, self.backbones, self.learners))

    def _check_shorthand(self) -> None:
        """A shorthand option must belong to at least one learner of the sweep."""
        declared = {key for text in self.learners for key in _declared(text)}
        unused = sorted(set(self.learner_options) - declared)
        if unused:
            names = ", ".join(split_learner(text)[0] for text in self.learners)
            raise InvalidSpecError(f"no learner of this sweep ({names}) has option {unused[0]!r}")

    def _fold_scenarios(self) -> None:
        """Scenarios in canonical form, each checked; a single one moves into the protocol."""
        if isinstance(self.scenarios, str) or not all(isinstance(s, str) for s in self.scenarios):
            raise InvalidSpecError(f"scenarios is a list of scenario specs, not {self.scenarios!r}")
        scenarios = tuple(dict.fromkeys(canonical(text) for text in self.scenarios))
        if scenarios and self.protocol.scenario and scenarios != (self.protocol.scenario,):
            raise InvalidSpecError(
                "give the scenarios once: as a list of scenarios or as the protocol's scenario"
            )
        protocols = [replace(self.protocol, scenario=text) for text in scenarios]
        if len(protocols) == 1:
            object.__setattr__(self, "protocol", protocols[0])
        object.__setattr__(self, "scenarios", scenarios if len(scenarios) > 1 else ())

    def protocols(self) -> list[Protocol]:
        """The protocol once per scenario of the sweep (the protocol alone without a list)."""
        return [replace(self.protocol, scenario=text) for text in self.scenarios] or [self.protocol]

    def learner_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, options) per learner: the shorthand options it declares, then its own."""
        specs = []
        for text in self.learners:
            name, inline = split_learner(text)
            keys = _declared(text)
            shared = {k: v for k, v in self.learner_options.items() if k in keys}
            specs.append((name, {**shared, **inline}))
        return specs

    def left_out(self) -> list[tuple[str, str, frozenset[str]]]:
        """(learner, strategy, missing capabilities) of the pairs this sweep leaves out."""
        from albench.strategies.registry import get_strategy

        if len(self.learners) == 1:
            return []
        needs = {text: get_strategy(text).required_capabilities() for text in self.strategies}
        pairs = []
        for learner, _ in self.learner_specs():
            provided = RUNNER_CAPABILITIES | learner_info(learner).capabilities
            pairs += [(learner, s, needs[s] - provided) for s in self.strategies]
        return [pair for pair in pairs if pair[2]]

    def runs(self) -> list[RunSpec]:
        """One RunSpec per combination, in (dataset, scenario, backbone, learner, strategy,
        seed) order, without the pairs of :meth:`left_out`."""
        skip = {(learner, strategy) for learner, strategy, _ in self.left_out()}
        pairs = [
            (learner, strategy)
            for learner in self.learner_specs()
            for strategy in self.strategies
            if (learner[0], strategy) not in skip
        ]
        combos = product(self.datasets, self.protocols(), self.backbones, pairs, self.seeds)
        return [
            RunSpec(
                dataset=dataset,
                backbone=backbone,
                learner=learner,
                strategy=strategy,
                seed=seed,
                protocol=protocol,
                learner_options=options,
                data_root=self.data_root,
            )
            for dataset, protocol, backbone, ((learner, options), strategy), seed in combos
        ]

    def identity(self) -> dict[str, Any]:
        """What defines the sweep's results (not where its data lives or runs)."""
        fields = asdict(self)
        for location in ("data_root", "download", "device"):
            fields.pop(location)
        for departure in ("allow_partial", "skip_unreadable", "scenarios"):
            if not fields[departure]:
                fields.pop(departure)
        fields["protocol"] = self.protocol.identity()
        return fields


def _declared(learner: str) -> set[str]:
    """The option keys the learner of spec ``learner`` accepts."""
    return set(learner_info(split_learner(learner)[0]).options)
