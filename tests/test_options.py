"""The one option grammar and the typed check of option values."""

from __future__ import annotations

import pytest

from albench.errors import InvalidSpecError
from albench.options import OptionSpec, check_values, format_call, parse_call, split_top_level


def test_calls_parse_positional_arguments_then_literal_options():
    call = parse_call("pcb(badge(x=1), candidates=8, init=a photo of a, t=(1, 2), f=1e-4)")
    assert call.name == "pcb" and call.args == ("badge(x=1)",)
    assert call.options == {"candidates": 8, "init": "a photo of a", "t": (1, 2), "f": 1e-4}
    assert parse_call(" entropy ").name == "entropy" and not parse_call("entropy").options
    assert parse_call("coop()").options == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pcb(badge", "malformed"),
        ("pcb(badge))", "unbalanced|malformed"),
        ("a,b", "malformed"),
        ("", "empty"),
        ("pcb(x=1, badge)", "positional arguments must come before"),
        ("coop(steps=1, steps=2)", "given twice"),
    ],
)
def test_malformed_calls_are_one_line_errors(text, message):
    with pytest.raises(InvalidSpecError, match=message):
        parse_call(text)


def test_lists_split_only_at_top_level_commas():
    assert split_top_level("random, pcb(badge, candidates=4),entropy") == [
        "random",
        "pcb(badge, candidates=4)",
        "entropy",
    ]
    with pytest.raises(InvalidSpecError, match="malformed"):
        split_top_level("random,,entropy")


def test_values_are_checked_against_their_declared_types():
    specs = {
        "lr": OptionSpec(0.002, minimum=0),
        "steps": OptionSpec(200, minimum=1),
        "flag": OptionSpec(False),
        "optimizer": OptionSpec("sgd", choices=("sgd", "adamw")),
        "vpt_lr": OptionSpec(None, types=(float, type(None))),
    }
    check_values("learner 'x'", {"lr": 1, "steps": 3, "flag": True, "vpt_lr": None}, specs)
    refused = {
        "lr": "1e-4x",
        "steps": True,
        "flag": 1,
        "optimizer": "lbfgs",
        "vpt_lr": "fast",
    }
    for key, value in refused.items():
        with pytest.raises(InvalidSpecError, match=f"learner 'x' option {key}=") as error:
            check_values("learner 'x'", {key: value}, specs)
        assert "expected" in str(error.value)
    with pytest.raises(InvalidSpecError, match=r"expected whole number >= 1"):
        check_values("learner 'x'", {"steps": 0}, specs)
    with pytest.raises(InvalidSpecError, match="has no option 'epochs'; options: flag, lr"):
        check_values("learner 'x'", {"epochs": 3}, specs)


def test_canonical_text_sorts_options():
    assert format_call("coop", {"steps": 5, "init": "a"}) == "coop(init='a', steps=5)"
    assert format_call("linear", {}) == "linear"


def test_constructor_options_come_from_keyword_parameters_and_their_annotations():
    from albench.options import accepts_any_keyword, signature_options

    class Wrapper:
        def __init__(self, base, k: int = 3, *, beta: float | None = None, tag="x"):
            del base, k, beta, tag

    specs = signature_options(Wrapper.__init__)
    assert list(specs) == ["k", "beta", "tag"]
    assert specs["k"].accepts(4) and not specs["k"].accepts(4.5)
    assert specs["beta"].accepts(None) and specs["beta"].accepts(2)
    assert specs["tag"].accepts("y") and not specs["tag"].accepts(3)  # typed by its default
    assert not accepts_any_keyword(Wrapper.__init__)

    class Open:
        def __init__(self, **options: float):
            del options

    assert accepts_any_keyword(Open.__init__) and signature_options(Open.__init__) == {}
