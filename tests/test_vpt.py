"""Visual prompt tuning: the prompted ViT forward, the learners' pixel path, the runner, the gate.

Everything runs on ``tiny-clip`` (a random two-layer open_clip ViT on 32 x 32 images) with a
few synthetic images; VPT is allowed on the CPU here through ``vpt_allow_cpu``.
"""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch
from torch.nn import functional as F

from albench.backbones import get_backbone
from albench.backbones.openclip import OpenClipBackbone
from albench.data import ArraySplit
from albench.errors import CapabilityError, InvalidSpecError
from albench.inputs import RunInputs
from albench.learners import LearnerContext, check_learner, check_options
from albench.learners.dual_prompt import DualPromptLearner
from albench.learners.images import ImageRows
from albench.learners.visual_prompts import VisualPrompts
from albench.learners.vpt import VPTLearner
from albench.protocol import Protocol
from albench.runner import _RunState, check_spec, run, subsample_pool
from albench.seeding import torch_seed
from albench.specs import RunSpec

NAMES = ("red", "green", "blue")
CPU = {"vpt_allow_cpu": True}
FAST = {"steps": 3, "batch_size": 4, **CPU}


@pytest.fixture(scope="module")
def tiny():
    return get_backbone("tiny-clip")


def coloured(n_per_class: int, seed: int) -> ArraySplit:
    """32 x 32 images, one dominant colour channel per class, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(NAMES)), n_per_class)
    images = rng.integers(0, 80, size=(labels.size, 32, 32, 3))
    images[np.arange(labels.size), :, :, labels] += 170
    return ArraySplit(images.astype(np.uint8), labels)


def encode(tiny, split: ArraySplit, indices=None) -> np.ndarray:
    transform = tiny.transform()
    indices = range(len(split)) if indices is None else indices
    pixels = torch.stack([transform(split[int(i)][0]) for i in indices])
    return tiny.encode_image(pixels).numpy()


@pytest.fixture(scope="module")
def splits():
    return {"pool": coloured(12, seed=0), "test": coloured(4, seed=1)}


@pytest.fixture(scope="module")
def inputs(tiny, splits) -> RunInputs:
    return RunInputs(
        pool_features=encode(tiny, splits["pool"]),
        pool_labels=splits["pool"].labels,
        test_features=encode(tiny, splits["test"]),
        test_labels=splits["test"].labels,
        class_names=NAMES,
        text_embeddings=tiny.encode_text([f"a photo of {name}." for name in NAMES]).numpy(),
        logit_scale=tiny.logit_scale,
        backbone=tiny,
        images=splits.__getitem__,
    )


@pytest.fixture(scope="module")
def context(inputs) -> LearnerContext:
    return LearnerContext(
        class_names=NAMES,
        text_embeddings=inputs.text_embeddings,
        logit_scale=inputs.logit_scale,
        backbone=inputs.backbone,
    )


def rows(inputs: RunInputs, splits, which: str) -> ImageRows:
    features = inputs.pool_features if which == "pool" else inputs.test_features
    return ImageRows(features, splits[which], np.arange(len(features)))


def pixels(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


# --- the prompted forward ---------------------------------------------------------------


@pytest.mark.parametrize("deep", [False, True])
def test_no_prompts_reproduce_encode_image(tiny, deep):
    tower = tiny.vision_tower
    none = torch.zeros(tower.depth if deep else 1, 0, tower.width)
    x = pixels(5)
    prompted = F.normalize(tower.encode_prompted(x, none), dim=-1)
    torch.testing.assert_close(prompted, tiny.encode_image(x), atol=1e-5, rtol=0)


def test_prompts_change_the_image_embedding_whatever_their_order(tiny):
    tower = tiny.vision_tower
    x = pixels(4)
    prompts = torch.rand(1, 3, tower.width, generator=torch.Generator().manual_seed(1))
    out = F.normalize(tower.encode_prompted(x, prompts), dim=-1)
    assert (out - tiny.encode_image(x)).abs().max() > 1e-2
    # no positional embedding on prompts: their order cannot matter
    swapped = tower.encode_prompted(x, prompts[:, [2, 0, 1]])
    torch.testing.assert_close(F.normalize(swapped, dim=-1), out, atol=1e-5, rtol=0)
    # prompts are shared, images stay independent: one image alone gives its batch row
    alone = F.normalize(tower.encode_prompted(x[2:3], prompts), dim=-1)
    torch.testing.assert_close(alone, out[2:3], atol=1e-5, rtol=0)


def test_deep_prompts_enter_every_block(tiny):
    tower = tiny.vision_tower
    assert tower.depth == 2
    x = pixels(3)
    deep = torch.rand(2, 2, tower.width, generator=torch.Generator().manual_seed(2))
    base = tower.encode_prompted(x, deep)
    for layer in range(2):
        changed = deep.clone()
        changed[layer] = torch.rand(2, tower.width, generator=torch.Generator().manual_seed(3))
        assert (tower.encode_prompted(x, changed) - base).abs().max() > 1e-3
    # shallow prompts equal the deep layer-0 prompts only if later blocks keep their outputs
    assert (tower.encode_prompted(x, deep[:1]) - base).abs().max() > 1e-3
    with pytest.raises(ValueError, match="prompts of shape"):
        tower.encode_prompted(x, torch.zeros(3, 2, tower.width))


def test_gradients_reach_the_prompts_only(tiny):
    prompts = VisualPrompts(tiny.vision_tower, 4, deep=True, generator=torch.Generator())
    assert [name for name, _ in prompts.named_parameters()] == ["prompts"]
    prompts(pixels(2))[:, 0].sum().backward()
    assert bool((prompts.prompts.grad.abs().sum(dim=(1, 2)) > 0).all())
    frozen = list(tiny.model.parameters())
    assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)


def test_prompt_initialisation_follows_the_xavier_bound(tiny):
    tower = tiny.vision_tower
    prompts = VisualPrompts(tower, 50, deep=False, generator=torch.Generator().manual_seed(0))
    bound = (6 / (tower.patch_dim + tower.width)) ** 0.5
    values = prompts.prompts.detach()
    assert values.shape == (1, 50, tower.width)
    assert values.abs().max() <= bound and values.abs().max() > 0.95 * bound


# --- the learner's pixel path -----------------------------------------------------------


def test_a_vpt_fit_trains_the_prompts_and_leaves_the_backbone_unchanged(
    tiny, inputs, splits, context
):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    learner = DualPromptLearner(context, n_vpt=2, **FAST)
    assert learner.needs_images
    pool, test = rows(inputs, splits, "pool"), rows(inputs, splits, "test")
    labelled = np.array([0, 1, 12, 13, 24, 25])
    learner.fit(pool[labelled], splits["pool"].labels[labelled], np.random.default_rng(0))
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    start = learner.build(torch.Generator().manual_seed(torch_seed(np.random.default_rng(0))))
    fitted = learner._model[1]
    assert fitted.visual.prompts.shape == (1, 2, tiny.vision_tower.width)
    assert not torch.equal(fitted.visual.prompts, start[1].visual.prompts)

    # predictions come from the prompted tower on the images, not from cached features
    transform = tiny.transform()
    x = torch.stack([transform(test.image(r)) for r in range(len(test))])
    with torch.no_grad():
        logits = context.logit_scale * fitted(x) @ learner._text[0].T
    np.testing.assert_allclose(
        learner.predict_proba(test), torch.softmax(logits, 1).numpy(), atol=1e-5
    )
    u = learner.correctness_prob(test)
    assert u.shape == (len(test),) and ((u > 0) & (u < 1)).all()

    settings = learner.hyperparameters()
    assert (settings["n_vpt"], settings["vpt_deep"], settings["vpt_lr"]) == (2, False, 0.002)


def test_a_vpt_learner_refuses_feature_arrays(inputs, context):
    learner = DualPromptLearner(context, n_vpt=1, **FAST)
    with pytest.raises(TypeError, match="ImageRows"):
        learner.fit(inputs.pool_features[:3], np.array([0, 1, 2]), np.random.default_rng(0))


def test_image_rows_select_like_their_features(inputs, splits):
    pool = rows(inputs, splits, "pool")
    picked = pool[np.array([5, 30])][np.array([False, True])]
    assert picked.indices.tolist() == [30]
    np.testing.assert_array_equal(picked.features, inputs.pool_features[[30]])
    assert np.array_equal(np.asarray(picked.image(0)), np.asarray(splits["pool"][30][0]))


# --- the runner ---------------------------------------------------------------------------


def spec(**options) -> RunSpec:
    return RunSpec(
        dataset="colours",
        backbone="tiny-clip",
        learner="dual-prompt",
        strategy="dual-prompt",
        seed=0,
        protocol=Protocol(rounds=2, pool_subsample=24),
        learner_options={"n_vpt": 2, **FAST, "steps": 4, **options},
    )


def test_a_dual_prompt_vpt_run_selects_valid_samples_and_records_vpt(inputs):
    result = run(spec(), inputs)
    rows_ = result.rows
    assert rows_["n_labelled"].tolist() == [3, 6, 9]
    settings = json.loads(rows_["hyperparameters"].iloc[0])
    assert (settings["n_vpt"], settings["vpt_deep"], settings["vpt_lr"]) == (2, False, 0.002)
    record = result.selections
    picks = record["initial"] + [i for r in record["rounds"] for i in r["indices"]]
    assert len(picks) == len(set(picks)) == 9
    assert set(picks) <= set(subsample_pool(spec(), len(inputs.pool_labels)).tolist())
    assert [sum(c) for c in rows_["labelled_per_class"]] == [3, 6, 9]


def test_pixel_rows_are_the_rows_of_the_cached_features(tiny, inputs):
    state = _RunState(spec(), inputs, check_spec(spec()))
    assert state.pool_rows.indices.tolist() == state.subset.tolist()
    assert len(state.subset) == 24 and state.test_rows.indices.tolist() == list(range(12))
    transform = tiny.transform()
    for which, x in (("pool", state.pool_x), ("test", state.test_x)):
        image_rows = getattr(state, f"{which}_rows")
        images = torch.stack([transform(image_rows.image(r)) for r in range(len(image_rows))])
        np.testing.assert_allclose(tiny.encode_image(images).numpy(), x, atol=1e-5)


def test_the_runner_refuses_vpt_on_features_only(inputs):
    features_only = RunInputs(**{**vars(inputs), "images": None})
    with pytest.raises(CapabilityError, match="features only"):
        run(spec(), features_only)


# --- the gate -------------------------------------------------------------------------------


def test_vpt_without_an_accelerator_is_refused_before_the_run(monkeypatch, context):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    without = RunSpec(**{**vars(spec()), "learner_options": {"n_vpt": 4}})
    with pytest.raises(CapabilityError, match="VPT needs an accelerator") as refused:
        check_spec(without)
    assert "\n" not in str(refused.value) and "vpt_allow_cpu" in str(refused.value)
    check_spec(spec())  # allowed on the CPU on purpose
    check_spec(RunSpec(**{**vars(spec()), "learner_options": {}}))  # VPT off
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(CapabilityError, match="backbone is on cpu"):
        DualPromptLearner(context, n_vpt=4)


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_prompt_lengths_are_user_errors(value):
    with pytest.raises(InvalidSpecError, match="n_vpt"):
        check_options("coop", {"n_vpt": value})


def test_the_offline_backbone_is_refused_by_name(context):
    offline = get_backbone("offline-effnet-minilm")
    text = offline.encode_text(list(NAMES)).numpy()
    with pytest.raises(CapabilityError, match="offline-effnet-minilm"):
        DualPromptLearner(
            LearnerContext(NAMES, text, offline.logit_scale, backbone=offline), n_vpt=2, **CPU
        )


def test_a_convolutional_open_clip_tower_is_refused_by_name(tiny):
    model = open_clip.model.CLIP(
        embed_dim=16,
        vision_cfg={"layers": (1, 1, 1, 1), "width": 8, "image_size": 32, "head_width": 8},
        text_cfg={"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    )
    backbone = OpenClipBackbone(
        model, tiny.transform(), None, backbone_id="tiny-rn", checkpoint=None, embed_dim=16
    )
    with pytest.raises(CapabilityError, match="'tiny-rn' has a ModifiedResNet"):
        _ = backbone.vision_tower


# --- the vpt learner: visual prompts, hand-written text -----------------------------------


def test_the_vpt_learner_trains_prompts_against_the_template_classifier(inputs, splits, context):
    learner = VPTLearner(context, n_vpt=2, **FAST)
    pool, test = rows(inputs, splits, "pool"), rows(inputs, splits, "test")
    labelled = np.array([0, 1, 12, 13, 24, 25])
    start = learner.build(torch.Generator().manual_seed(torch_seed(np.random.default_rng(0))))
    learner.fit(pool[labelled], splits["pool"].labels[labelled], np.random.default_rng(0))
    # the classifier is the hand-written one, unchanged; only the prompts moved
    np.testing.assert_array_equal(learner._text[0].numpy(), context.text_embeddings)
    fitted = learner._model[1]
    assert not torch.equal(fitted.visual.prompts, start[1].visual.prompts)
    transform = context.backbone.transform()
    x = torch.stack([transform(test.image(r)) for r in range(len(test))])
    with torch.no_grad():
        logits = context.logit_scale * fitted(x) @ torch.as_tensor(context.text_embeddings).T
    np.testing.assert_allclose(
        learner.predict_proba(test), torch.softmax(logits, 1).numpy(), atol=1e-5
    )
    assert learner.hyperparameters()["n_vpt"] == 2


def test_the_vpt_learner_with_zero_prompts_is_zero_shot_clip(inputs, splits, context):
    learner = VPTLearner(context, n_vpt=1, **FAST)
    pool = rows(inputs, splits, "pool")
    learner.fit(pool[np.array([0])], np.array([0]), np.random.default_rng(0))
    learner._model[1].visual.prompts.data = torch.zeros(1, 0, context.backbone.vision_tower.width)
    test = rows(inputs, splits, "test")
    learner._encoded = None
    zero_shot = context.logit_scale * inputs.test_features @ inputs.text_embeddings.T
    expected = torch.softmax(torch.as_tensor(zero_shot), 1).numpy()
    np.testing.assert_allclose(learner.predict_proba(test), expected, atol=1e-4)


def test_the_vpt_learner_is_refused_without_an_accelerator_at_check_time(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CapabilityError, match="learner 'vpt': VPT needs an accelerator"):
        check_learner("vpt", {})
    check_learner("vpt", CPU)


def test_the_vpt_learner_refuses_the_offline_backbone_by_name():
    offline = get_backbone("offline-effnet-minilm")
    text = offline.encode_text(list(NAMES)).numpy()
    with pytest.raises(CapabilityError, match="offline-effnet-minilm"):
        VPTLearner(LearnerContext(NAMES, text, offline.logit_scale, backbone=offline), **CPU)


def test_vpt_deep_with_20_tokens_is_the_dual_prompt_papers_setting(context):
    from albench.presets import get_preset

    options = get_preset("dual-prompt-paper").learner_options
    assert (options["n_vpt"], options["vpt_deep"]) == (20, True)  # DeFT's config/PEFT
    learner = check_learner("vpt", {"n_vpt": 20, "vpt_deep": True, **CPU})(
        context, n_vpt=20, vpt_deep=True, **CPU
    )
    text, side = learner.build(torch.Generator().manual_seed(0))
    assert side.visual.prompts.shape == (context.backbone.vision_tower.depth, 20, 64)
    np.testing.assert_array_equal(text()[0].numpy(), context.text_embeddings)
