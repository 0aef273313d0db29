"""MaPLe: coupled text and vision prompts, checked against the plain towers and by hand.

Runs on ``tiny-clip`` (a random two-block open_clip ViT on 32 x 32 images) and, where a
prompt depth below the towers' depth matters, on a three-block model built here from a
seeded generator; MaPLe is allowed on the CPU through ``vpt_allow_cpu``.
"""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch

from albench.backbones import get_backbone
from albench.backbones.openclip import OpenClipBackbone
from albench.backbones.tiny import _initial_value
from albench.data import ArraySplit
from albench.errors import CapabilityError, InvalidSpecError
from albench.inputs import RunInputs
from albench.learners import LearnerContext, check_learner
from albench.learners.catalog import MAPLE
from albench.learners.images import ImageRows
from albench.learners.maple import CoupledImageSide, MaPLeLearner, MultiModalPrompts
from albench.protocol import Protocol
from albench.runner import run
from albench.seeding import torch_seed
from albench.specs import RunSpec

NAMES = ("red", "green", "blue")
PHRASE = "a photo of a"
CPU = {"vpt_allow_cpu": True, "prompt_depth": 2}


@pytest.fixture(scope="module")
def tiny():
    return get_backbone("tiny-clip")


@pytest.fixture(scope="module")
def deeper(tiny) -> OpenClipBackbone:
    """A three-block open_clip ViT, its weights drawn as tiny-clip's from a seeded generator."""
    layers = {"width": 32, "layers": 3}
    vision = {"image_size": 32, "patch_size": 8, "head_width": 16, **layers}
    text = {"context_length": 77, "vocab_size": 49408, "heads": 2, **layers}
    model = open_clip.model.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=text)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(_initial_value(name, parameter.shape, generator))
    return OpenClipBackbone(
        model,
        tiny.transform(),
        open_clip.get_tokenizer("ViT-B-32"),
        backbone_id="deeper",
        checkpoint=None,
        embed_dim=16,
    )


def coloured(n_per_class: int, seed: int) -> ArraySplit:
    """32 x 32 images, one dominant colour channel per class, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(NAMES)), n_per_class)
    images = rng.integers(0, 80, size=(labels.size, 32, 32, 3))
    images[np.arange(labels.size), :, :, labels] += 170
    return ArraySplit(images.astype(np.uint8), labels)


def encode(tiny, split: ArraySplit) -> np.ndarray:
    transform = tiny.transform()
    pixels = torch.stack([transform(split[i][0]) for i in range(len(split))])
    return tiny.encode_image(pixels).numpy()


@pytest.fixture(scope="module")
def splits():
    return {"pool": coloured(6, seed=0), "test": coloured(2, seed=1)}


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


def context_of(backbone) -> LearnerContext:
    text = backbone.encode_text([f"{PHRASE} {name}." for name in NAMES]).numpy()
    return LearnerContext(NAMES, text, backbone.logit_scale, backbone=backbone)


def pool_rows(inputs: RunInputs, splits) -> ImageRows:
    return ImageRows(inputs.pool_features, splits["pool"], np.arange(len(inputs.pool_labels)))


def prompts(backbone, n_ctx: int, depth: int, init: str = PHRASE, seed: int = 0):
    return MultiModalPrompts(
        backbone.text_tower,
        backbone.vision_tower.width,
        NAMES,
        n_ctx,
        init=init,
        depth=depth,
        generator=torch.Generator().manual_seed(seed),
    )


def pixels(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def hand_written(backbone) -> torch.Tensor:
    return backbone.encode_text([f"{PHRASE} {name}." for name in NAMES])


# --- equivalences with the plain towers ----------------------------------------------------


def test_zero_length_prompts_give_the_backbones_own_features(tiny):
    empty = prompts(tiny, n_ctx=0, depth=2)
    assert empty.vision_prompts().shape == (2, 0, tiny.vision_tower.width)
    with torch.no_grad():
        torch.testing.assert_close(empty()[0], hand_written(tiny), atol=1e-5, rtol=0)
        x = pixels(4)
        image = CoupledImageSide(empty, tiny.vision_tower)(x)
        torch.testing.assert_close(image, tiny.encode_image(x), atol=1e-5, rtol=0)


def test_the_context_starts_as_the_first_words_of_init(tiny):
    # at depth 1 there are no deep prompts: "a photo" learnable + "of a" fixed is the phrase
    start = prompts(tiny, n_ctx=2, depth=1)
    with torch.no_grad():
        torch.testing.assert_close(start()[0], hand_written(tiny), atol=1e-5, rtol=0)
    words = tiny.text_tower.token_embedding(tiny.text_tower.tokenize(["a photo"]).ids)[0, 1:3]
    torch.testing.assert_close(start.ctx.detach(), words.detach(), atol=0, rtol=0)
    # one block deeper, the deep prompt replaces the context's outputs and moves the text
    with torch.no_grad():
        assert (prompts(tiny, n_ctx=2, depth=2)()[0] - hand_written(tiny)).abs().max() > 1e-3


def _block_output(transformer, inputs, block: int) -> torch.Tensor:
    """(batch, tokens, width) output of ``transformer``'s block ``block`` while ``inputs()``
    runs, as a forward hook sees it."""
    seen = {}
    hook = transformer.resblocks[block].register_forward_hook(
        lambda module, args, output: seen.__setitem__("out", output)
    )
    try:
        inputs()
    finally:
        hook.remove()
    out = seen["out"]
    return out if transformer.batch_first else out.transpose(0, 1)


def test_deep_text_prompts_replace_the_context_outputs_before_the_next_blocks(deeper):
    tower, m = deeper.text_tower, 2
    learner_prompts = prompts(deeper, n_ctx=m, depth=2)
    embeddings = torch.cat(
        [learner_prompts.prefix, learner_prompts.ctx.expand(3, -1, -1), learner_prompts.suffix], 1
    ).detach()
    tokens = learner_prompts.prompts
    with torch.no_grad():
        plain = tower.encode_embeddings(embeddings, tokens)
        # causal attention: the context positions see only [SOS] and the context, the same
        # in every class, so a deep prompt equal to block 0's output there changes nothing
        plain_run = lambda: tower.encode_embeddings(embeddings, tokens)  # noqa: E731
        carried = _block_output(deeper.model.transformer, plain_run, 0)[:, 1 : 1 + m]
        torch.testing.assert_close(carried, carried[:1].expand(3, -1, -1), atol=1e-6, rtol=0)
        same = tower.encode_embeddings_deep(embeddings, tokens, carried[:1], 1)
        torch.testing.assert_close(same, plain, atol=1e-5, rtol=0)
        other = torch.randn(1, m, tower.token_dim, generator=torch.Generator().manual_seed(1))
        moved = tower.encode_embeddings_deep(embeddings, tokens, other, 1)
        assert (moved - plain).abs().max() > 1e-3
        # prompt depth 2 of 3 blocks: block 2 keeps what block 1 made of the prompt
        moved_run = lambda: tower.encode_embeddings_deep(embeddings, tokens, other, 1)  # noqa: E731
        kept = _block_output(deeper.model.transformer, moved_run, 1)[:1, 1 : 1 + m]
        as_if_deeper = tower.encode_embeddings_deep(embeddings, tokens, torch.cat([other, kept]), 1)
        torch.testing.assert_close(as_if_deeper, moved, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="3 deep prompts for a tower of 3 blocks"):
        tower.encode_embeddings_deep(embeddings, tokens, torch.zeros(3, m, tower.token_dim), 1)


def test_vision_prompts_to_a_depth_below_the_towers_are_carried_by_later_blocks(deeper):
    tower, x = deeper.vision_tower, pixels(1, seed=3)
    vision = torch.randn(2, 2, tower.width, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        two = tower.encode_prompted(x, vision)
        two_run = lambda: tower.encode_prompted(x, vision)  # noqa: E731
        kept = _block_output(deeper.model.visual.transformer, two_run, 1)[:, 1:3]
        # prompt depth 2 of 3 blocks: block 2 keeps what block 1 made of the prompts (albench
        # puts them after the class token, MaPLe at the end: the same outputs, no mask)
        three = torch.cat([vision, kept])
        torch.testing.assert_close(tower.encode_prompted(x, three), two, atol=1e-5, rtol=0)
        fresh = torch.cat([vision, torch.zeros(1, 2, tower.width)])
        assert (tower.encode_prompted(x, fresh) - two).abs().max() > 1e-3


# --- the coupling -----------------------------------------------------------------------------


def test_each_vision_prompt_is_its_layers_linear_map_of_its_text_prompt(tiny):
    coupled = prompts(tiny, n_ctx=2, depth=2, init="random")
    w, b = coupled.coupling_weight.detach(), coupled.coupling_bias.detach()
    assert w.shape == (2, tiny.vision_tower.width, tiny.text_tower.token_dim)
    text = coupled.text_prompts().detach()
    expected = torch.stack([text[j] @ w[j].T + b[j] for j in range(2)])
    torch.testing.assert_close(coupled.vision_prompts().detach(), expected, atol=1e-6, rtol=0)
    with torch.no_grad():
        before = coupled.vision_prompts().clone()
        coupled.deep[0, 1] += 1.0  # the text prompt of block 1, token 1
        after = coupled.vision_prompts()
    assert torch.equal(after[0], before[0]) and torch.equal(after[1, 0], before[1, 0])
    assert (after[1, 1] - before[1, 1]).abs().max() > 1e-2
    torch.testing.assert_close(after[1, 1] - before[1, 1], w[1].sum(dim=1), atol=1e-5, rtol=0)


def test_couplings_start_as_nn_linear_and_the_deep_ones_as_copies_of_one_draw(tiny):
    coupled = prompts(tiny, n_ctx=2, depth=2, init="random")
    bound = tiny.text_tower.token_dim**-0.5
    for values in (coupled.coupling_weight, coupled.coupling_bias):
        assert 0.9 * bound < float(values.detach().abs().max()) <= bound
    four = prompts(tiny, n_ctx=2, depth=4, init="random")  # parameters only: no forward
    assert torch.equal(four.coupling_weight[1], four.coupling_weight[3])
    assert not torch.equal(four.coupling_weight[0], four.coupling_weight[1])
    assert float(four.deep.detach().std()) == pytest.approx(0.02, rel=0.1)


# --- the learner ---------------------------------------------------------------------------


def test_gradients_reach_context_deep_prompts_and_every_coupling_but_no_tower(tiny, splits):
    learner = MaPLeLearner(context_of(tiny), **CPU)
    model, side = learner.build(torch.Generator().manual_seed(0))
    transform = tiny.transform()
    x = torch.stack([transform(splits["pool"][i][0]) for i in (0, 6, 12)])
    learner.loss(model, side, x, torch.tensor([0, 1, 2]), None, None, 0).backward()
    assert [name for name, _ in model.named_parameters()] == [
        "ctx",
        "deep",
        "coupling_weight",
        "coupling_bias",
    ]
    assert float(model.ctx.grad.abs().min()) > 0 and float(model.deep.grad.abs().sum()) > 0
    per_layer = model.coupling_weight.grad.abs().sum(dim=(1, 2))
    assert bool((per_layer > 0).all()) and bool((model.coupling_bias.grad.abs().sum(1) > 0).all())
    frozen = list(tiny.model.parameters())
    assert all(p.grad is None and not p.requires_grad for p in frozen)
    groups = learner._param_groups(model, side)
    assert [p.shape for p in groups[0]["params"]] == [p.shape for p in model.parameters()]


def test_a_short_fit_lowers_the_training_loss_and_leaves_the_backbone_unchanged(
    tiny, inputs, splits
):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    options = {**CPU, "epochs": None, "warmup_epochs": 0, "steps": 5, "batch_size": 9}
    learner = MaPLeLearner(context_of(tiny), **options)
    labelled = np.array([0, 1, 2, 6, 7, 8, 12, 13, 14])
    labels = splits["pool"].labels[labelled]
    rows = pool_rows(inputs, splits)[labelled]
    generator = torch.Generator().manual_seed(torch_seed(np.random.default_rng(0)))
    start = learner.build(generator)
    x = rows.pixels(tiny.transform())
    y = torch.as_tensor(labels)
    with torch.no_grad():
        initial = float(learner.loss(*start, x, y, None, None, 0))
    learner.fit(rows, labels, np.random.default_rng(0))
    with torch.no_grad():
        fitted = float(learner.loss(*learner._model, x, y, None, None, 0))
    assert fitted < 0.7 * initial  # 1.36 -> 0.73 at the default lr when this was written
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_outputs_come_from_the_prompted_towers(tiny, inputs, splits):
    learner = MaPLeLearner(context_of(tiny), **CPU, epochs=1)
    pool = pool_rows(inputs, splits)
    learner.fit(pool[np.array([0, 6, 12])], np.array([0, 1, 2]), np.random.default_rng(0))
    model, side = learner._model
    transform = tiny.transform()
    x = torch.stack([transform(pool.image(r)) for r in range(len(pool))])
    with torch.no_grad():
        image, text = side(x), model()[0]
    logits = tiny.logit_scale * image @ text.T
    np.testing.assert_allclose(learner.predict_proba(pool), torch.softmax(logits, 1), atol=1e-5)
    np.testing.assert_allclose(learner.embed(pool), image.numpy(), atol=1e-6)
    factors = learner.grad_embedding(pool)
    np.testing.assert_allclose(factors.x, tiny.logit_scale * image.numpy(), rtol=1e-5)
    assert (np.abs(learner.embed(pool) - inputs.pool_features) > 1e-3).any()


def test_a_fit_is_a_function_of_its_seed(tiny, inputs, splits):
    pool = pool_rows(inputs, splits)
    labelled, labels = np.array([0, 1, 6, 7, 12, 13]), np.array([0, 0, 1, 1, 2, 2])

    def probabilities(seed: int) -> np.ndarray:
        learner = MaPLeLearner(context_of(tiny), **CPU, epochs=1, batch_size=3)
        learner.fit(pool[labelled], labels, np.random.default_rng(seed))
        return learner.predict_proba(pool)

    first = probabilities(0)
    np.testing.assert_array_equal(probabilities(0), first)
    assert np.abs(probabilities(1) - first).max() > 1e-6


def test_the_defaults_are_the_reference_config():
    defaults = MAPLE.defaults()
    expected = {
        "n_ctx": 2,
        "init": "a photo of a",
        "prompt_depth": 9,
        "optimizer": "sgd",
        "lr": 0.0035,
        "batch_size": 4,
        "epochs": 5,
        "warmup_epochs": 1,
        "warmup_lr": 1e-5,
        "momentum": 0.9,
        "weight_decay": 5e-4,
    }
    assert {key: defaults[key] for key in expected} == expected


# --- refusals ---------------------------------------------------------------------------------


def test_the_offline_backbone_is_refused_by_name_in_one_line():
    offline = get_backbone("offline-effnet-minilm")
    with pytest.raises(CapabilityError, match="offline-effnet-minilm") as refused:
        MaPLeLearner(context_of(offline), **CPU)
    assert "\n" not in str(refused.value) and "maple" in str(refused.value)


def test_no_accelerator_is_refused_at_check_time_unless_allowed(monkeypatch, tiny):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CapabilityError, match="learner 'maple': MaPLe needs an accelerator") as e:
        check_learner("maple", {})
    assert "\n" not in str(e.value) and "vpt_allow_cpu=True" in str(e.value)
    check_learner("maple", CPU)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(CapabilityError, match="backbone is on cpu"):
        MaPLeLearner(context_of(tiny), prompt_depth=2)


def test_a_prompt_depth_beyond_the_towers_is_refused(tiny):
    with pytest.raises(
        InvalidSpecError, match="prompt_depth=9 but backbone 'tiny-clip' has towers of 2"
    ):
        MaPLeLearner(context_of(tiny), vpt_allow_cpu=True)


def test_more_learnable_tokens_than_init_words_are_refused(tiny):
    with pytest.raises(
        InvalidSpecError, match="n_ctx=5 learnable tokens, but init 'a photo of a' has only 4"
    ):
        MaPLeLearner(context_of(tiny), **CPU, n_ctx=5)
    assert (
        MaPLeLearner(context_of(tiny), **CPU, n_ctx=4).build(torch.Generator())[0].ctx.shape[0] == 4
    )


# --- the runner ---------------------------------------------------------------------------------


def test_a_maple_run_selects_valid_samples_and_records_its_settings(inputs):
    spec = RunSpec(
        dataset="colours",
        backbone="tiny-clip",
        learner="maple",
        strategy="badge",
        seed=0,
        protocol=Protocol(rounds=1),
        learner_options={**CPU, "epochs": 1},
    )
    result = run(spec, inputs)
    assert result.rows["n_labelled"].tolist() == [3, 6]
    settings = json.loads(result.rows["hyperparameters"].iloc[0])
    assert (settings["n_ctx"], settings["prompt_depth"], settings["lr"]) == (2, 2, 0.0035)
    picks = result.selections["initial"] + result.selections["rounds"][0]["indices"]
    assert len(set(picks)) == 6 and set(picks) <= set(range(len(inputs.pool_labels)))
