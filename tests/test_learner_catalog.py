"""The learner catalog is the one declaration of each built-in learner: the classes agree."""

from __future__ import annotations

import pytest

from albench.learners import get_learner
from albench.learners.catalog import BUILT_IN
from albench.options import signature_options


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_each_class_takes_its_name_capabilities_and_option_defaults_from_the_catalog(name):
    info, cls = BUILT_IN[name], get_learner(name)
    assert (cls.name, cls.capabilities, cls.info) == (info.name, info.capabilities, info)
    assert cls.defaults == info.defaults()
    # a constructor with keyword parameters must default them as the catalog says, or a run
    # without options would compute with values `albench learners` does not show
    declared = signature_options(cls.__init__)
    if declared:
        assert {key: spec.default for key, spec in declared.items()} == info.defaults()
