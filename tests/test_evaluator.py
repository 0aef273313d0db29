"""Select with one learner, evaluate with another: the evaluator changes evaluation only."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from runner_fakes import make_inputs, one_thread, spec_of  # noqa: F401

from albench import cli
from albench.commands.sweep_options import read_sweep_file, sweep_from_file
from albench.errors import InvalidSpecError, UnknownNameError
from albench.kernels import unit_rows
from albench.learners import LearnerContext, make_learner
from albench.protocol import Protocol
from albench.runner import run
from albench.seeding import stream
from albench.specs import RunSpec

INPUTS = make_inputs()
EVALUATOR = "linear(weight_decay=0.5)"
pytestmark = pytest.mark.usefixtures("one_thread")


def _spec(strategy: str = "entropy", eval_learner: str = "", **protocol) -> RunSpec:
    protocol = Protocol(rounds=3, eval_learner=eval_learner, **protocol)
    return RunSpec("blobs", "fake", "linear", strategy, 0, protocol=protocol)


def _labelled_sets(selections) -> list[list[int]]:
    """The annotated set of each round, rebuilt from the selections record."""
    labelled, sets = list(selections["initial"]), []
    for record in [None, *selections["rounds"]]:
        labelled += record["indices"] if record else []
        sets.append(list(labelled))
    return sets


@pytest.mark.parametrize("evaluator", [EVALUATOR, "clip-adapter(steps=10)"])
def test_an_evaluator_leaves_every_selection_and_selector_number_unchanged(evaluator):
    alone = run(_spec(), INPUTS)
    evaluated = run(_spec(eval_learner=evaluator), INPUTS)
    assert evaluated.selections["initial"] == alone.selections["initial"]
    assert [r["indices"] for r in evaluated.selections["rounds"]] == [
        r["indices"] for r in alone.selections["rounds"]
    ]
    for column in ("accuracy", "n_labelled", "stop_kappa", "max_uncertainty", "stop_rounds"):
        np.testing.assert_array_equal(evaluated.rows[column], alone.rows[column], column)
    assert alone.rows["eval_accuracy"].isna().all() and set(alone.rows["eval_learner"]) == {""}
    assert set(evaluated.rows["eval_learner"]) == {evaluator}
    assert evaluated.rows["eval_accuracy"].between(0, 1).all()


def test_eval_accuracy_is_an_independently_fitted_evaluator_s_on_the_annotated_sets():
    # pseudo-labels train the selector, never the evaluator
    spec = _spec(spec_of("ConfidentPseudo"), EVALUATOR, pseudo_labels=True)
    result = run(spec, INPUTS)
    assert result.rows["n_pseudo"].tolist()[1:] == [5, 5, 5]
    context = LearnerContext(INPUTS.class_names, INPUTS.text_embeddings, INPUTS.logit_scale)
    pool_x, test_x = unit_rows(INPUTS.pool_features), unit_rows(INPUTS.test_features)
    for round_, labelled in enumerate(_labelled_sets(result.selections)):
        learner = make_learner("linear", context, {"weight_decay": 0.5})
        rng = stream(0, "learner", "blobs", str(round_))
        learner.fit(pool_x[labelled], INPUTS.pool_labels[labelled], rng)
        expected = (learner.predict_proba(test_x).argmax(1) == INPUTS.test_labels).mean()
        assert result.rows.loc[round_, "eval_accuracy"] == expected


def test_an_evaluator_equal_to_the_selector_reproduces_the_run_s_accuracy():
    result = run(_spec(eval_learner="linear"), INPUTS)
    assert result.rows["eval_accuracy"].tolist() == result.rows["accuracy"].tolist()


def test_the_evaluator_enters_the_run_id_only_when_set_in_canonical_form():
    plain = _spec()
    assert "eval_learner" not in plain.identity()
    spaced = _spec(eval_learner=" linear( weight_decay = 0.5 ) ")
    assert spaced.protocol.eval_learner == EVALUATOR
    assert spaced.run_id == _spec(eval_learner=EVALUATOR).run_id != plain.run_id
    assert replace(spaced, protocol=replace(spaced.protocol, eval_learner="")) == plain


def test_a_revised_evaluator_names_its_revision_in_the_identity():
    identity = _spec("margin", eval_learner="dual-prompt").identity()
    assert identity["revisions"] == {"eval-learner:dual-prompt": 2}


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("lineaer", UnknownNameError, "did you mean 'linear'"),
        ("linear(weight_decay=high)", InvalidSpecError, "weight_decay='high': expected number"),
        ("coop(linear)", InvalidSpecError, "takes options only"),
        ("linear(", InvalidSpecError, "malformed"),
    ],
)
def test_bad_evaluators_are_one_line_errors(text, error, message):
    with pytest.raises(error, match=message):
        Protocol(eval_learner=text)


def test_the_flag_is_checked_before_torch_and_exits_2(capsys):
    code = (
        "import sys\nfrom albench import cli\n"
        "status = cli.main(['run', '--dataset', 'digits', '--strategy', 'random',"
        " '--eval-learner', 'lineaer'])\n"
        "print(status, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["2", "False"]
    assert done.stderr.strip().splitlines() == [
        "albench: error: unknown learner 'lineaer'; did you mean 'linear'?"
    ]
    assert cli.main(["run", "--dataset", "digits", "--strategy", "random",
                     "--eval-learner", "coop(stepz=1)"]) == 2  # fmt: skip
    assert "has no option 'stepz'" in capsys.readouterr().err


def test_sweep_files_and_the_reproducing_command_carry_the_evaluator(tmp_path):
    from albench.report.reproduce import command

    path = tmp_path / "sweep.toml"
    path.write_text(
        'datasets = ["digits"]\nstrategies = ["random"]\nseeds = "0"\n'
        '[protocol]\nrounds = 2\neval_learner = "coop(steps=5)"\n'
    )
    sweep = sweep_from_file(path)
    assert [spec.protocol.eval_learner for spec in sweep.runs()] == ["coop(steps=5)"]
    assert sweep.identity()["protocol"]["eval_learner"] == "coop(steps=5)"
    text = command(read_sweep_file(path), "out")
    assert "'--eval-learner=coop(steps=5)'" in text
