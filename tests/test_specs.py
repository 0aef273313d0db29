"""Run and sweep specs: run ids of earlier results, inline learner options, the shorthand."""

from __future__ import annotations

import pytest

from albench.errors import InvalidSpecError, UnknownNameError
from albench.protocol import Protocol
from albench.specs import RunSpec, SweepSpec, revisions, spec_digest

PROMPT = {"init": "a photo of a", "steps": 10, "batch_size": 128, "optimizer": "adamw", "lr": 0.01}

#: (spec fields, run id computed when the protocol fields were RunSpec's own): results
#: folders written then must keep resuming, so these ids may never change
EARLIER_IDS = [
    (
        dict(dataset="fashion-mnist-mini", backbone="offline-effnet-minilm", learner="linear",
             strategy="random", seed=0, protocol=Protocol(rounds=8)),
        "73f6f5678f220bfb",
    ),
    (
        dict(dataset="fashion-mnist-mini", backbone="offline-effnet-minilm",
             learner="dual-prompt", strategy="dual-prompt", seed=2, protocol=Protocol(rounds=8),
             learner_options=PROMPT),
        "848fc79cff5476ed",
    ),
    (
        dict(dataset="digits", backbone="tiny-clip", learner="coop",
             strategy="pcb(badge, candidates=8)", seed=4,
             protocol=Protocol(rounds=3, budget="20", initial="zero-shot-kmeans",
                               initial_size="0", pseudo_labels=True, pool_subsample=500),
             learner_options={"warm_start": True}, data_root="/tmp/x"),
        "e2533f72e919d742",
    ),
    (
        dict(dataset="eurosat", backbone="ViT-B-32:openai", learner="clip-adapter",
             strategy="badge", seed=1,
             protocol=Protocol(rounds=5, budget="2/class", initial_size="3/class"),
             learner_options={"alpha": 0.5}),
        "fb44a94e39dbe31d",
    ),
]  # fmt: skip


#: the cases whose components changed behaviour since (dual-prompt's negative start, PCB's
#: candidate count): their ids must change, or old and new results would mix
CHANGED = {"848fc79cff5476ed": {"learner:dual-prompt": 2}, "e2533f72e919d742": {"strategy:pcb": 2}}


@pytest.mark.parametrize(("fields", "run_id"), EARLIER_IDS)
def test_run_ids_of_earlier_results_are_unchanged_unless_their_behaviour_changed(fields, run_id):
    spec = RunSpec(**fields)
    identity = spec.identity()
    assert identity.pop("revisions", {}) == CHANGED.get(run_id, {})
    assert spec_digest(identity) == run_id
    assert (spec.run_id == run_id) is (run_id not in CHANGED)


def test_a_wrapped_strategy_with_a_new_behaviour_changes_the_wrapper_s_id():
    assert revisions("linear", "pcb(typiclust)") == {"strategy:pcb": 2, "strategy:typiclust": 3}
    assert revisions("linear", "pcb(entropy)") == {"strategy:entropy": 2, "strategy:pcb": 2}
    assert revisions("linear", "margin") == {} and revisions("no-such-learner", "x.py:A") == {}


def test_inline_learner_options_are_the_same_spec_as_separate_ones():
    inline = RunSpec("d", "b", "dual-prompt(steps=10, init='a photo of a')", "random", 0)
    apart = RunSpec("d", "b", "dual-prompt", "random", 0,
                    learner_options={"steps": 10, "init": "a photo of a"})  # fmt: skip
    assert inline == apart and inline.run_id == apart.run_id
    assert inline.learner == "dual-prompt"
    assert inline.learner_spec == "dual-prompt(init='a photo of a', steps=10)"
    with pytest.raises(InvalidSpecError, match="given twice"):
        RunSpec("d", "b", "coop(steps=10)", "random", 0, learner_options={"steps": 5})


def _sweep(**changes) -> SweepSpec:
    fields = dict(datasets=("d",), backbones=("b",), learners=("linear",),
                  strategies=("random",), seeds=(0,))  # fmt: skip
    return SweepSpec(**{**fields, **changes})


def test_the_shorthand_goes_to_the_learners_that_declare_it_and_inline_options_win():
    sweep = _sweep(
        learners=("linear", "dual-prompt(steps=2)"),
        learner_options={"steps": 5, "weight_decay": 0.1, "warm_start": True},
    )
    assert sweep.learner_specs() == [
        ("linear", {"weight_decay": 0.1, "warm_start": True}),
        ("dual-prompt", {"steps": 2, "weight_decay": 0.1, "warm_start": True}),
    ]
    assert [run.learner_spec for run in sweep.runs()] == [
        "linear(warm_start=True, weight_decay=0.1)",
        "dual-prompt(steps=2, warm_start=True, weight_decay=0.1)",
    ]


def test_a_shorthand_option_no_learner_declares_is_refused():
    with pytest.raises(InvalidSpecError, match=r"no learner of this sweep \(linear\).*'steps'"):
        _sweep(learner_options={"steps": 5})
    with pytest.raises(UnknownNameError, match="did you mean 'linear'"):
        _sweep(learners=("lineaer",))


def test_one_learner_twice_with_different_options_is_refused():
    with pytest.raises(InvalidSpecError, match="'coop' appears twice"):
        _sweep(learners=("coop(steps=5)", "coop(steps=50)"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rounds": 0}, "rounds must be at least 1, got 0"),
        ({"rounds": 2.5}, "rounds must be a whole number"),
        ({"budget": "0"}, "at least 1 label"),
        ({"budget": "1/klass"}, "k/class"),
        ({"initial": "kmeans"}, "unknown initial policy"),
        ({"pool_subsample": 0}, "positive number"),
        ({"pseudo_labels": "yes"}, "True or False"),
    ],
)
def test_bad_protocols_are_one_line_errors(fields, message):
    with pytest.raises(InvalidSpecError, match=message) as refused:
        Protocol(**fields)
    assert "\n" not in str(refused.value)


def test_protocol_counts_resolve_per_class():
    assert Protocol(budget=" 2/class", initial_size=3).sizes(10) == (3, 20)
    assert Protocol(budget=" 2/class").budget == "2/class"


def test_initial_policy_names_match_their_implementations():
    from albench.initial import INITIAL_POLICIES
    from albench.protocol import INITIAL_POLICIES as NAMES

    assert tuple(INITIAL_POLICIES) == NAMES


def test_a_grid_of_learners_leaves_out_what_a_learner_cannot_provide():
    sweep = _sweep(learners=("linear", "dual-prompt"), strategies=("random", "dual-prompt"))
    assert sweep.left_out() == [("linear", "dual-prompt", frozenset({"correctness_prob"}))]
    assert [(run.learner, run.strategy) for run in sweep.runs()] == [
        ("linear", "random"),
        ("dual-prompt", "random"),
        ("dual-prompt", "dual-prompt"),
    ]
    alone = _sweep(strategies=("random", "dual-prompt"))
    assert alone.left_out() == [] and len(alone.runs()) == 2  # refused when it runs


def test_a_cold_start_strategy_s_revision_is_in_the_run_id():
    assert revisions("linear", "margin", initial="typiclust") == {"initial:typiclust": 3}
    assert revisions("linear", "margin", initial="probcover") == {}
    assert revisions("linear", "margin", initial="random") == {}
    cold = RunSpec("d", "b", "linear", "margin", 0, protocol=Protocol(initial="typiclust"))
    warm = RunSpec("d", "b", "linear", "margin", 0, protocol=Protocol(initial="random"))
    assert cold.identity()["revisions"] == {"initial:typiclust": 3}
    assert "revisions" not in warm.identity()
