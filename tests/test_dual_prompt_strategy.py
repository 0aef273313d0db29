"""The ``dual-prompt`` strategy on hand-checkable pools."""

from __future__ import annotations

import numpy as np
import pytest

from albench.errors import CapabilityError, InvalidSpecError
from albench.strategies import StrategyContext, get_strategy
from albench.strategies.dual_prompt import DualPrompt, most_confident, round_robin


def context(predicted, u, labelled=(), n_classes=3) -> StrategyContext:
    """A pool whose learner predicts ``predicted`` with correctness probability ``u``."""
    predicted = np.asarray(predicted)
    probs = np.full((predicted.size, n_classes), 0.1)
    probs[np.arange(predicted.size), predicted] = 0.8
    labelled = np.asarray(labelled, dtype=np.int64)
    return StrategyContext(
        features=np.eye(predicted.size, dtype=np.float32),
        labelled=labelled,
        labelled_labels=predicted[labelled],
        n_classes=n_classes,
        providers={
            "probabilities": lambda: probs,
            "correctness_prob": lambda: np.asarray(u, dtype=np.float64),
        },
    )


#: pool positions:   0    1    2    3    4    5    6    7    8
PREDICTED = [0, 0, 0, 0, 0, 0, 1, 1, 2]
U = [0.1, 0.2, 0.3, 0.05, 0.9, 0.95, 0.6, 0.4, 0.99]


def test_budget_is_spread_over_predicted_classes():
    # Global lowest-u would take 3, 0, 1, 2 (all class 0); the spread takes each class's
    # least certain first: pass 0 = 3 (0.05), 7 (0.4), 8 (0.99), pass 1 = 0 (0.1), 6 (0.6).
    selection = DualPrompt().select(context(PREDICTED, U), 5, np.random.default_rng(0))
    assert selection.indices.tolist() == [3, 7, 8, 0, 6]
    np.testing.assert_allclose(selection.scores, [0.05, 0.4, 0.99, 0.1, 0.6])
    assert selection.info["per_class"] == [2, 2, 1]
    assert selection.pseudo_indices is None


def test_exhausted_classes_hand_their_share_to_the_others():
    selection = DualPrompt().select(context(PREDICTED, U), 7, np.random.default_rng(0))
    assert selection.indices.tolist() == [3, 7, 8, 0, 6, 1, 2]


def test_labelled_samples_are_never_ranked():
    ctx = context(PREDICTED, U, labelled=[3, 7])
    selection = DualPrompt().select(ctx, 3, np.random.default_rng(0))
    assert selection.indices.tolist() == [0, 6, 8]


def test_ties_go_to_the_lower_position_then_the_lower_class():
    assert round_robin(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.5]), 4).tolist() == [
        1,
        0,
        3,
        2,
    ]


def test_pseudo_labels_are_the_most_confident_per_class_and_outside_the_budget():
    strategy = get_strategy("dual-prompt(pseudo_per_class=1)")
    ctx = context(PREDICTED, U, labelled=[2])
    selection = strategy.select(ctx, 3, np.random.default_rng(0))
    assert selection.indices.tolist() == [3, 7, 8]
    # class 0's most confident is 5 (0.95); class 1 keeps 6; class 2 has nothing left
    assert selection.pseudo_indices.tolist() == [5, 6]
    assert selection.pseudo_labels.tolist() == [0, 1]
    taken = set(selection.indices) | set(ctx.labelled)
    assert taken.isdisjoint(selection.pseudo_indices)


def test_pseudo_label_threshold():
    strategy = DualPrompt(pseudo_threshold=0.9)
    selection = strategy.select(context(PREDICTED, U), 2, np.random.default_rng(0))
    assert selection.indices.tolist() == [3, 7]
    assert selection.pseudo_indices.tolist() == [5, 4, 8]
    both = DualPrompt(pseudo_per_class=1, pseudo_threshold=0.9)
    assert both.select(context(PREDICTED, U), 2, None).pseudo_indices.tolist() == [5, 8]


def test_most_confident_orders_by_class_then_confidence():
    groups, scores = np.array([1, 0, 1, 0]), np.array([0.2, 0.7, 0.9, 0.7])
    assert most_confident(groups, scores, 2, None).tolist() == [1, 3, 2, 0]
    assert most_confident(groups, scores, None, 0.75).tolist() == [2]


def test_selection_is_deterministic():
    rng = np.random.default_rng(3)
    predicted, u = rng.integers(0, 3, 200), rng.random(200).round(2)
    picks = [DualPrompt().select(context(predicted, u), 17, rng).indices for _ in range(2)]
    np.testing.assert_array_equal(*picks)
    assert len(set(picks[0])) == 17


@pytest.mark.parametrize("options", ["pseudo_per_class=-1", "pseudo_threshold=1.5"])
def test_bad_options_are_user_errors(options):
    with pytest.raises(InvalidSpecError):
        get_strategy(f"dual-prompt({options})")


def test_a_learner_without_correctness_probability_is_refused_before_the_run():
    from albench.protocol import Protocol
    from albench.runner import check_spec
    from albench.specs import RunSpec

    spec = RunSpec(
        dataset="fashion-mnist-mini",
        backbone="tiny-clip",
        learner="coop",
        strategy="dual-prompt",
        seed=0,
        protocol=Protocol(rounds=1),
    )
    with pytest.raises(CapabilityError, match=r"'dual-prompt'.*correctness_prob.*'coop'"):
        check_spec(spec)
    strategy = check_spec(RunSpec(**{**vars(spec), "learner": "dual-prompt"}))
    assert strategy.required_capabilities() == {"probabilities", "correctness_prob"}
