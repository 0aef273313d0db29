"""What each built-in learner is, provides and accepts, as data (no torch needed to read it).

A :class:`LearnerInfo` declares a learner's name, paradigm, capabilities, options (default,
type, one line of help) and reference, and names the class that implements it, which is
imported only when a run builds the learner. So ``albench learners`` lists everything and a
typo'd learner name, option key or value type fails before torch is imported (the way timm
and open_clip keep model configurations as data). Each implementing class points back to
its info (``Learner.info``), which is where its ``name``, ``capabilities`` and ``defaults``
come from: one declaration per learner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from albench.capabilities import (
    CORRECTNESS_PROB,
    EMBED,
    GRAD_EMBEDDING,
    LINEAR_HEAD,
    MC_PROBABILITIES,
    PROBABILITIES,
)
from albench.options import OptionSpec


@dataclass(frozen=True)
class Switch:
    """An option that turns a capability on: provided only while ``option`` is non-zero
    (``dropout`` for ``mc_probabilities``); ``example`` is a value to suggest to the user."""

    option: str
    example: Any


@dataclass(frozen=True)
class LearnerInfo:
    """One learner: ``implementation`` is ``"module:Class"`` (empty for classes defined in
    user code, which register by being defined)."""

    name: str
    paradigm: str
    capabilities: frozenset[str]
    options: Mapping[str, OptionSpec]
    reference: str
    implementation: str = ""
    #: raised when the same options start to compute something else, so that runs get new
    #: ids and are never mixed with results of the earlier behaviour
    revision: int = 1
    #: capabilities that one of the options turns on (the others are always provided)
    switches: Mapping[str, Switch] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {key: spec.default for key, spec in self.options.items()}

    def provides(self, options: Mapping[str, Any]) -> frozenset[str]:
        """The capabilities the learner has with ``options`` (defaults for the rest)."""
        values = {**self.defaults(), **options}
        off = {cap for cap, switch in self.switches.items() if not values.get(switch.option)}
        return self.capabilities - off


WARM_START = OptionSpec(False, "continue from the previous round's model instead of refitting")
DROPOUT = OptionSpec(
    0.0, "dropout rate in training; > 0 also provides mc_probabilities (BALD)", minimum=0
)
#: ``mc_probabilities`` needs a dropout rate: without one every pass is the same model
_MC_DROPOUT = {MC_PROBABILITIES: Switch("dropout", 0.2)}
_FEATURE_HEAD = frozenset({PROBABILITIES, GRAD_EMBEDDING, EMBED})
#: learners whose last layer is linear on ``embed`` and can be handed out as a LinearHead
_LINEAR_HEAD = _FEATURE_HEAD | {LINEAR_HEAD}

ZERO_SHOT = LearnerInfo(
    name="zero-shot",
    paradigm="zero-shot",
    capabilities=_LINEAR_HEAD,
    options={"warm_start": OptionSpec(False, "accepted for a uniform interface; nothing trains")},
    reference="Radford et al., CLIP, ICML 2021",
    implementation="albench.learners.zero_shot:ZeroShot",
)

LINEAR = LearnerInfo(
    name="linear",
    paradigm="linear probe",
    capabilities=_LINEAR_HEAD | {MC_PROBABILITIES},
    options={
        "init": OptionSpec(
            "text",
            "start from the zero-shot classifier or small random weights",
            choices=("text", "random"),
        ),
        "weight_decay": OptionSpec(
            1e-4, "L2 penalty towards the initial weights (L2-SP)", minimum=0
        ),
        "max_iter": OptionSpec(200, "L-BFGS iterations per fit", minimum=1),
        "warm_start": WARM_START,
        "dropout": DROPOUT,
    },
    reference="Gupte et al., Revisiting AL in the Era of Vision Foundation Models, TMLR 2024",
    implementation="albench.learners.linear_probe:LinearProbe",
    switches=_MC_DROPOUT,
)

CLIP_ADAPTER = LearnerInfo(
    name="clip-adapter",
    paradigm="feature adapter",
    capabilities=_FEATURE_HEAD | {MC_PROBABILITIES},
    options={
        "alpha": OptionSpec(0.2, "residual ratio: share of the adapted feature", minimum=0),
        "reduction": OptionSpec(4, "bottleneck: hidden width = dim / reduction", minimum=1),
        "lr": OptionSpec(1e-3, "AdamW learning rate", minimum=0),
        "weight_decay": OptionSpec(1e-2, "AdamW weight decay", minimum=0),
        "steps": OptionSpec(200, "full-batch optimisation steps per round", minimum=1),
        "warm_start": WARM_START,
        "dropout": DROPOUT,
    },
    reference="Gao et al., CLIP-Adapter, IJCV 2023 (arXiv 2110.04544)",
    implementation="albench.learners.clip_adapter:ClipAdapter",
    switches=_MC_DROPOUT,
)

_VPT_OPTIONS = {
    "n_vpt": OptionSpec(0, "visual prompt tokens (0: off; needs a CUDA device)", minimum=0),
    "vpt_deep": OptionSpec(False, "fresh prompt tokens before every transformer block"),
    "vpt_lr": OptionSpec(
        None, "learning rate of the visual prompts (default: lr)", types=(float, type(None))
    ),
    "vpt_allow_cpu": OptionSpec(False, "allow VPT on the CPU (tests and debugging; slow)"),
}

COOP_OPTIONS: dict[str, OptionSpec] = {
    "n_ctx": OptionSpec(16, "learnable context tokens (set from init when it is text)", minimum=1),
    "init": OptionSpec("random", "'random' (N(0, 0.02^2)) or words to start from: 'a photo of a'"),
    "class_specific": OptionSpec(False, "one context per class (CoOp's CSC)"),
    "steps": OptionSpec(200, "optimisation steps per round (unless epochs is set)", minimum=1),
    "epochs": OptionSpec(
        None,
        "passes over the labelled set per round, in mini-batches (replaces steps)",
        types=(int, type(None)),
        minimum=1,
    ),
    "warmup_epochs": OptionSpec(
        0, "first epochs at the constant warmup_lr, then cosine (needs epochs)", minimum=0
    ),
    "warmup_lr": OptionSpec(1e-5, "learning rate of the warm-up epochs (CoOp: 1e-5)", minimum=0),
    "batch_size": OptionSpec(32, "mini-batch size (all samples when fewer)", minimum=1),
    "optimizer": OptionSpec("sgd", "optimiser", choices=("sgd", "adamw")),
    "lr": OptionSpec(0.002, "learning rate (cosine schedule to 0 over the round)", minimum=0),
    "momentum": OptionSpec(0.9, "SGD momentum", minimum=0),
    "weight_decay": OptionSpec(5e-4, "weight decay", minimum=0),
    "adapter_alpha": OptionSpec(
        0.0, "residual adapter ratio on image features (0: none)", minimum=0
    ),
    "adapter_reduction": OptionSpec(
        4, "adapter bottleneck: hidden width = dim / reduction", minimum=1
    ),
    "warm_start": WARM_START,
    **_VPT_OPTIONS,
}

COOP = LearnerInfo(
    name="coop",
    paradigm="prompt learning",
    capabilities=_FEATURE_HEAD,
    options=COOP_OPTIONS,
    reference="Zhou et al., Learning to Prompt for Vision-Language Models (CoOp), IJCV 2022",
    implementation="albench.learners.coop:CoOpLearner",
)

DUAL_PROMPT = LearnerInfo(
    name="dual-prompt",
    revision=2,  # 2: the negative context starts from its own random draw
    paradigm="prompt learning",
    capabilities=_FEATURE_HEAD | {CORRECTNESS_PROB},
    options={
        **COOP_OPTIONS,
        "adapter_alpha": OptionSpec(0.2, "residual adapter ratio on image features", minimum=0),
        "negative_init": OptionSpec(
            "random",
            "negative context starts from an independent random draw, or from init's words",
            choices=("random", "positive"),
        ),
        "negative_weight": OptionSpec(1.0, "weight of the negative prompt's loss", minimum=0),
        "warmup_steps": OptionSpec(0, "steps before DeFT's clean-sample filter applies", minimum=0),
        "clean_filter": OptionSpec(False, "drop samples with p_yes(x, y) <= 0.5 from CE (DeFT)"),
        "negative_target": OptionSpec(
            "complementary",
            "negative loss: a random wrong class (DeFT) or out-of-fold correctness",
            choices=("complementary", "correctness"),
        ),
        "folds": OptionSpec(5, "out-of-fold fits for negative_target='correctness'", minimum=2),
        "uncertainty": OptionSpec(
            "predicted",
            "p_yes at the predicted class, or its expectation (atd)",
            choices=("predicted", "atd"),
        ),
    },
    reference="Wang, Song & Xia, arXiv 2602.04340 (2026); mechanism as in DeFT, NeurIPS 2024",
    implementation="albench.learners.dual_prompt:DualPromptLearner",
)

_SCHEDULE_KEYS = ("steps", "epochs", "warmup_epochs", "warmup_lr", "batch_size")
_OPTIMISER_KEYS = ("optimizer", "lr", "momentum", "weight_decay", "warm_start")

VPT = LearnerInfo(
    name="vpt",
    paradigm="visual prompt tuning",
    capabilities=_FEATURE_HEAD,
    options={
        "n_vpt": OptionSpec(10, "visual prompt tokens (needs a CUDA device)", minimum=1),
        "vpt_deep": _VPT_OPTIONS["vpt_deep"],
        "vpt_allow_cpu": _VPT_OPTIONS["vpt_allow_cpu"],
        **{key: COOP_OPTIONS[key] for key in (*_SCHEDULE_KEYS, *_OPTIMISER_KEYS)},
    },
    reference="Jia et al., Visual Prompt Tuning, ECCV 2022; text side: CLIP's templates",
    implementation="albench.learners.vpt:VPTLearner",
)

#: MaPLe's settings cite configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml
#: (github.com/muzairkhattak/multimodal-prompt-learning) or Dassl's defaults under it
MAPLE = LearnerInfo(
    name="maple",
    paradigm="multi-modal prompt learning",
    capabilities=_FEATURE_HEAD,
    options={
        "n_ctx": OptionSpec(2, "learnable prompt tokens per layer (config N_CTX: 2)", minimum=1),
        "init": OptionSpec(
            "a photo of a",
            "words the text prompt starts from, the first n_ctx of them learnable (config "
            "CTX_INIT); 'random': n_ctx tokens from N(0, 0.02^2)",
        ),
        "prompt_depth": OptionSpec(
            9,
            "transformer blocks of each tower that take prompts (config PROMPT_DEPTH: 9)",
            minimum=1,
        ),
        "steps": OptionSpec(
            200, "optimisation steps per round (with epochs=None, warmup_epochs=0)", minimum=1
        ),
        "epochs": OptionSpec(
            5,
            "passes over the labelled set per round (config MAX_EPOCH: 5); None: train by steps",
            types=(int, type(None)),
            minimum=1,
        ),
        "warmup_epochs": OptionSpec(
            1, "first epochs at warmup_lr, then cosine (config WARMUP_EPOCH: 1)", minimum=0
        ),
        "warmup_lr": OptionSpec(
            1e-5, "rate of the warm-up epochs (config WARMUP_CONS_LR)", minimum=0
        ),
        "batch_size": OptionSpec(4, "mini-batch size (config BATCH_SIZE: 4)", minimum=1),
        "optimizer": COOP_OPTIONS["optimizer"],
        "lr": OptionSpec(0.0035, "learning rate (config LR: 0.0035; SGD as the config)", minimum=0),
        "momentum": OptionSpec(0.9, "SGD momentum (Dassl's default)", minimum=0),
        "weight_decay": OptionSpec(5e-4, "weight decay (Dassl's default)", minimum=0),
        "warm_start": WARM_START,
        "vpt_allow_cpu": OptionSpec(False, "allow MaPLe on the CPU (tests and debugging; slow)"),
    },
    reference="Khattak et al., MaPLe: Multi-modal Prompt Learning, CVPR 2023",
    implementation="albench.learners.maple:MaPLeLearner",
)

#: name -> info of every built-in learner
BUILT_IN: dict[str, LearnerInfo] = {
    info.name: info for info in (ZERO_SHOT, LINEAR, CLIP_ADAPTER, COOP, DUAL_PROMPT, VPT, MAPLE)
}
