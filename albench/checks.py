"""Every name of a sweep, checked before anything heavy is imported.

A typo in a dataset, backbone, learner or strategy name, an unknown option key or a value
of the wrong type is reported in one line within a fraction of a second, instead of after
torch and open_clip have loaded (15-30 s). Only the dataset specs, the backbone table, the
learner catalog and the strategy registry are read here; none of them imports torch.
"""

from __future__ import annotations

from albench.backbones import check_backbone_name
from albench.data.spec import load_specs
from albench.errors import UnknownNameError
from albench.learners import check_options
from albench.scenarios import scenario_sources
from albench.specs import SweepSpec
from albench.strategies.registry import get_strategy

#: datasets given by path rather than by name
PATH_PREFIXES = ("imagefolder:", "hf:")


def check_dataset_name(name: str) -> None:
    """UnknownNameError (with a suggestion) unless ``name`` has a spec or is a path form."""
    specs = load_specs()
    if name not in specs and not name.startswith(PATH_PREFIXES):
        raise UnknownNameError("dataset", name, specs)


def source_datasets(sweep: SweepSpec) -> list[str]:
    """The other datasets the sweep's scenarios draw pool images from (``open-set(source=)``)."""
    sources = [s for protocol in sweep.protocols() for s in scenario_sources(protocol.scenario)]
    return list(dict.fromkeys(sources))


def check_names(sweep: SweepSpec) -> None:
    """Datasets (those scenarios draw from too), backbones, learners with their options, and
    strategies with theirs."""
    for dataset in (*sweep.datasets, *source_datasets(sweep)):
        check_dataset_name(dataset)
    for backbone in sweep.backbones:
        check_backbone_name(backbone)
    for learner, options in sweep.learner_specs():
        check_options(learner, options)
    for strategy in sweep.strategies:
        get_strategy(strategy)
