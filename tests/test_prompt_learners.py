"""Prompt learners: exact truncated text encoding, dual-prompt losses, determinism.

Everything runs on the ``tiny-clip`` backbone (a random two-layer open_clip model) except the
check of the bidirectional offline BERT tower.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from albench.backbones import TextTower, TokenizedPrompts, get_backbone
from albench.backbones.tiny import load_tiny
from albench.capabilities import CORRECTNESS_PROB, GRAD_EMBEDDING
from albench.errors import CapabilityError, InvalidSpecError
from albench.learners import LearnerContext, get_learner
from albench.learners.coop import CoOpLearner, batch_indices
from albench.learners.dual_prompt import (
    DualPromptLearner,
    clean_weights,
    complementary_labels,
    correctness_loss,
    dual_logits,
    negative_loss,
    yes_logit,
)
from albench.learners.prompt_encoder import PromptTextEncoder
from albench.learners.schedule import Schedule

NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat")
FAST = {"steps": 6, "batch_size": 8}


@pytest.fixture(scope="module")
def tiny():
    return get_backbone("tiny-clip")


@pytest.fixture(scope="module")
def context(tiny) -> LearnerContext:
    text = tiny.encode_text([f"a photo of a {name}." for name in NAMES]).numpy()
    return LearnerContext(
        class_names=NAMES, text_embeddings=text, logit_scale=tiny.logit_scale, backbone=tiny
    )


def clusters(n_per_class: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm features around one random centre per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(NAMES), dim))
    labels = np.repeat(np.arange(len(NAMES)), n_per_class)
    x = centres[labels] + 0.3 * rng.normal(size=(labels.size, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def encoder(tower, truncate: bool, **options) -> PromptTextEncoder:
    generator = torch.Generator().manual_seed(7)
    return PromptTextEncoder(tower, NAMES, generator=generator, truncate=truncate, **options)


# --- the prompt encoder ---------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"n_ctx": 16}, {"n_ctx": 4, "class_specific": True}, {"n_ctx": 8, "n_prompts": 2}],
)
def test_truncated_prompts_equal_full_length_on_causal_clip(tiny, options):
    cut, full = (
        encoder(tiny.text_tower, True, **options),
        encoder(tiny.text_tower, False, **options),
    )
    assert full.prompts.ids.shape[1] == 77
    assert cut.prompts.ids.shape[1] == int(cut.prompts.lengths.max()) < 40
    torch.testing.assert_close(cut(), full(), atol=1e-5, rtol=0)


class PaddedTower(TextTower):
    """A tower whose tokenizer pads to 77 tokens, as a fixed-length tokenizer would."""

    def __init__(self, tower, length: int = 77):
        self.tower, self.length = tower, length
        self.causal, self.token_dim = tower.causal, tower.token_dim

    def tokenize(self, texts):
        tokens = self.tower.tokenize(texts)
        pad = self.length - tokens.ids.shape[1]
        return replace(tokens, ids=F.pad(tokens.ids, (0, pad)))

    def token_embedding(self, ids):
        return self.tower.token_embedding(ids)

    def encode_embeddings(self, embeddings, prompts: TokenizedPrompts):
        return self.tower.encode_embeddings(embeddings, prompts)


def test_truncated_prompts_equal_full_length_on_bidirectional_bert():
    tower = PaddedTower(get_backbone("offline-effnet-minilm").text_tower)
    assert not tower.causal
    cut, full = encoder(tower, True, n_ctx=4), encoder(tower, False, n_ctx=4)
    assert cut.full_pass_reason == "the text tower is not causal"
    assert cut.prompts.ids.shape[1] < full.prompts.ids.shape[1] == 77
    torch.testing.assert_close(cut(), full(), atol=1e-5, rtol=0)


def test_phrase_initialisation_reproduces_the_hand_written_prompt(tiny):
    prompt = PromptTextEncoder(tiny.text_tower, ["dress", "coat"], init="a photo of a")
    assert prompt.n_ctx == 4
    expected = tiny.encode_text(["a photo of a dress.", "a photo of a coat."])
    torch.testing.assert_close(prompt()[0], expected, atol=1e-5, rtol=0)


def test_only_the_context_receives_gradients(tiny):
    prompt = encoder(tiny.text_tower, True, n_ctx=4)
    prompt()[0, :, 0].sum().backward()
    assert prompt.ctx.grad is not None and prompt.ctx.grad.abs().sum() > 0
    modules = [v for v in vars(tiny.text_tower).values() if isinstance(v, torch.nn.Module)]
    frozen = [p for module in modules for p in module.parameters()]
    assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)


def test_random_context_follows_coop_initialisation(tiny):
    ctx = encoder(tiny.text_tower, True, n_ctx=16).ctx.detach()
    assert ctx.shape == (1, 16, tiny.text_tower.token_dim)
    assert ctx.std().item() == pytest.approx(0.02, rel=0.1)


def test_the_negative_context_is_drawn_independently_of_the_positive(tiny):
    tower = tiny.text_tower
    words = encoder(tower, True, init="a photo of a", n_prompts=2).ctx.detach()
    other = encoder(tower, True, init="a picture of one", n_prompts=2).ctx.detach()
    assert words.shape == other.shape == (2, 4, tower.token_dim)
    assert not torch.equal(words[0], other[0])  # the positives follow their phrases
    torch.testing.assert_close(words[1], other[1], atol=0, rtol=0)  # the negative does not
    assert words[1].std().item() == pytest.approx(0.02, rel=0.25)
    same = encoder(tower, True, init="a photo of a", n_prompts=2, phrase_prompts=2).ctx
    torch.testing.assert_close(same[1], words[0], atol=0, rtol=0)


@pytest.mark.parametrize(("negative_init", "constant"), [("random", False), ("positive", True)])
def test_p_yes_starts_at_one_half_only_when_both_contexts_share_the_phrase(
    context, negative_init, constant
):
    learner = DualPromptLearner(context, init="a photo of a", negative_init=negative_init)
    encoder_, adapter = learner.build(torch.Generator().manual_seed(0))
    x, _ = clusters(2, context.text_embeddings.shape[1], seed=7)
    with torch.no_grad():
        positive, negative = dual_logits(encoder_, adapter, torch.as_tensor(x), 100.0)
    p_yes = torch.sigmoid(yes_logit(positive, negative))
    assert torch.allclose(p_yes, torch.full_like(p_yes, 0.5), atol=1e-6) is constant


def test_a_tokenizer_without_one_token_per_slot_is_refused(tiny):
    class Merging(PaddedTower):
        def tokenize(self, texts):
            tokens = self.tower.tokenize(texts)
            ids = tokens.ids.clone()
            ids[:, 2] = ids[:, 1] + 1
            return replace(tokens, ids=ids)

    with pytest.raises(InvalidSpecError, match="one token per context slot"):
        PromptTextEncoder(Merging(tiny.text_tower), NAMES, n_ctx=4)


# --- the shared-prefix pass --------------------------------------------------------------

#: class names of 1 to 9 tokens, so that the suffixes carry padding of different lengths
UNEVEN = ("x", "ankle boot", "a very long class name made of many words", "t-shirt")


def shared_and_whole(tower, names=UNEVEN, **options) -> list[PromptTextEncoder]:
    """The same prompts (same seed) with the shared-prefix pass, cut at the longest prompt
    without it, and at the full 77 tokens."""
    settings = [{}, {"shared_prefix": False}, {"shared_prefix": False, "truncate": False}]
    return [
        PromptTextEncoder(
            tower, names, generator=torch.Generator().manual_seed(3), **options, **setting
        )
        for setting in settings
    ]


def outputs_and_context_gradients(prompt: PromptTextEncoder) -> tuple[torch.Tensor, ...]:
    """Features, and the contexts' gradient of a fixed random weighting of them."""
    features = prompt()
    weights = torch.randn(features.shape, generator=torch.Generator().manual_seed(11))
    (gradient,) = torch.autograd.grad((features * weights).sum(), prompt.ctx)
    return features.detach(), gradient


@pytest.mark.parametrize(
    "options",
    [{"n_ctx": 16}, {"n_ctx": 8, "n_prompts": 2}, {"init": "a photo of a", "n_prompts": 2}],
    ids=["coop", "dual-prompt", "dual-prompt-phrase"],
)
def test_the_shared_prefix_pass_equals_the_whole_prompt_passes(tiny, options):
    shared, truncated, full = shared_and_whole(tiny.text_tower, **options)
    assert shared.full_pass_reason is None
    assert truncated.full_pass_reason == full.full_pass_reason == "shared_prefix=False"
    assert len(set(shared.prompts.lengths.tolist())) == len(UNEVEN)
    features, gradient = outputs_and_context_gradients(shared)
    for whole in (truncated, full):
        expected, expected_gradient = outputs_and_context_gradients(whole)
        torch.testing.assert_close(features, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(gradient, expected_gradient, atol=1e-5, rtol=0)
    assert gradient[-1].abs().sum() > 0  # the negative context is reached too


def test_class_specific_contexts_run_the_whole_prompts(tiny):
    default, truncated, full = shared_and_whole(
        tiny.text_tower, n_ctx=4, class_specific=True, n_prompts=2
    )
    assert default.full_pass_reason == "the contexts are class-specific"
    features, gradient = outputs_and_context_gradients(default)
    for whole in (truncated, full):
        expected, expected_gradient = outputs_and_context_gradients(whole)
        torch.testing.assert_close(features, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(gradient, expected_gradient, atol=1e-5, rtol=0)


def test_a_tower_without_the_pass_runs_the_whole_prompts(tiny):
    tower = PaddedTower(tiny.text_tower)
    default, truncated, _ = shared_and_whole(tower, n_ctx=4)
    assert default.full_pass_reason == "PaddedTower has no shared-prefix pass"
    torch.testing.assert_close(default(), truncated(), atol=0, rtol=0)
    with pytest.raises(CapabilityError, match="PaddedTower has no shared-prefix pass"):
        tower.encode_shared_prefix(default.prefix[:1], default.suffix[None], default.prompts)


def _subclassed_block(model) -> None:
    block = model.transformer.resblocks[0]
    block.__class__ = type("Rewritten", (type(block),), {})


def _attention_dropout(model) -> None:
    model.transformer.resblocks[1].attn.dropout = 0.1


def _bidirectional_mask(model) -> None:
    model.attn_mask.zero_()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_subclassed_block, "text block 0: a Rewritten, not open_clip's ResidualAttentionBlock"),
        (_attention_dropout, "text block 1: attention dropout 0.1"),
        (_bidirectional_mask, "the text attention mask is not the plain causal mask"),
    ],
    ids=["subclassed-block", "attention-dropout", "bidirectional-mask"],
)
def test_an_unrecognised_clip_text_tower_runs_the_whole_prompts(change, reason):
    backbone = load_tiny()
    change(backbone.model)
    backbone.model.eval()
    tower = backbone.text_tower
    assert tower.shared_prefix_unsupported() == reason
    default, truncated, _ = shared_and_whole(tower, n_ctx=4)
    assert default.full_pass_reason == reason
    torch.testing.assert_close(default(), truncated(), atol=0, rtol=0)
    with pytest.raises(CapabilityError, match=reason):
        tower.encode_shared_prefix(default.prefix[:1], default.suffix[None], default.prompts)


def test_prompt_learners_take_the_shared_prefix_pass_unless_class_specific(context):
    generator = torch.Generator().manual_seed(0)
    shared, _ = DualPromptLearner(context).build(generator)
    specific, _ = CoOpLearner(context, class_specific=True).build(generator)
    assert shared.full_pass_reason is None
    assert specific.full_pass_reason == "the contexts are class-specific"


# --- dual-prompt probabilities and losses -----------------------------------------------


def test_p_yes_is_the_two_way_softmax_of_the_hand_example():
    positive = torch.tensor([[2.0, 0.5, -1.0]])
    negative = torch.tensor([[1.0, 1.5, -1.0]])
    p_yes = torch.sigmoid(yes_logit(positive, negative))
    expected = [1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(1.0)), 0.5]
    torch.testing.assert_close(p_yes[0], torch.tensor(expected), atol=1e-6, rtol=0)
    two_way = torch.softmax(torch.stack([positive, negative]), dim=0)[0]
    torch.testing.assert_close(p_yes, two_way, atol=1e-6, rtol=0)


def test_negative_loss_and_filter_on_a_hand_example():
    positive = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    negative = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    labels, others = torch.tensor([0, 1]), torch.tensor([1, 0])
    # sample 0: -log sigmoid(-0) - log sigmoid(1); sample 1: -log sigmoid(-0) - log sigmoid(-3)
    expected = (2 * math.log(2) + math.log1p(math.exp(-1)) + math.log1p(math.exp(3))) / 2
    assert negative_loss(positive, negative, labels, others).item() == pytest.approx(expected)
    assert clean_weights(positive, negative, labels).tolist() == [1.0, 0.0]
    bce = correctness_loss(positive, negative, torch.tensor([0, 1]), torch.tensor([1.0, 0.0]))
    assert bce.item() == pytest.approx((math.log1p(math.exp(-1)) + math.log1p(math.exp(-3))) / 2)


def test_complementary_labels_are_uniform_over_the_other_classes():
    labels = torch.arange(4).repeat(2000)
    others = complementary_labels(labels, 4, torch.Generator().manual_seed(0))
    assert not (others == labels).any()
    counts = torch.bincount(others[labels == 2], minlength=4).tolist()
    assert counts[2] == 0
    assert all(abs(c / 2000 - 1 / 3) < 0.05 for i, c in enumerate(counts) if i != 2)


def test_each_loss_reaches_only_its_own_parameters(context):
    learner = DualPromptLearner(context)
    prompt, adapter = learner.build(torch.Generator().manual_seed(0))
    x, y = clusters(2, context.text_embeddings.shape[1], seed=0)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    others = complementary_labels(y, len(NAMES), torch.Generator().manual_seed(1))

    positive, negative = dual_logits(prompt, adapter, x, context.logit_scale)
    F.cross_entropy(positive, y).backward()
    assert prompt.ctx.grad[0].abs().sum() > 0 and torch.all(prompt.ctx.grad[1] == 0)
    assert all(p.grad.abs().sum() > 0 for p in adapter.parameters())

    prompt.zero_grad(set_to_none=True)
    adapter.zero_grad(set_to_none=True)
    positive, negative = dual_logits(prompt, adapter, x, context.logit_scale)
    negative_loss(positive, negative, y, others).backward()
    assert torch.all(prompt.ctx.grad[0] == 0) and prompt.ctx.grad[1].abs().sum() > 0
    assert all(p.grad is None for p in adapter.parameters())


# --- learners ----------------------------------------------------------------------------


def test_learners_register_under_their_names():
    assert get_learner("coop") is CoOpLearner
    assert get_learner("dual-prompt") is DualPromptLearner
    assert "correctness_prob" in DualPromptLearner.capabilities
    assert "correctness_prob" not in CoOpLearner.capabilities


def test_batches_cover_every_sample_once_per_epoch():
    batches = list(batch_indices(10, 4, 5, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4] * 5
    first_epoch = torch.cat(batches)[:10]
    assert sorted(first_epoch.tolist()) == list(range(10))
    assert [len(b) for b in batch_indices(3, 32, 2, torch.Generator())] == [3, 3]


@pytest.mark.parametrize(
    ("n", "batch_size", "epochs", "steps"),
    [(10, 4, 3, 9), (8, 4, 3, 6), (3, 32, 5, 5), (32, 32, 2, 2), (33, 32, 2, 4)],
)
def test_epochs_map_to_passes_over_the_labelled_set(context, n, batch_size, epochs, steps):
    options = {**CoOpLearner.info.defaults(), "epochs": epochs, "batch_size": batch_size}
    assert Schedule.of(options, n).steps == steps

    class Counting(CoOpLearner):
        calls = 0

        def loss(self, *args):
            Counting.calls += 1
            return super().loss(*args)

    x, y = clusters(7, context.text_embeddings.shape[1], seed=8)
    Counting(context, epochs=epochs, batch_size=batch_size).fit(
        x[:n], y[:n], np.random.default_rng(0)
    )
    assert Counting.calls == steps


def test_epoch_schedule_warms_up_then_anneals_per_epoch():
    options = {**CoOpLearner.info.defaults(), "epochs": 4, "batch_size": 2, "lr": 0.002}
    plan = Schedule.of({**options, "warmup_epochs": 1, "warmup_lr": 1e-5}, 4)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.002)
    scheduler = plan.scheduler(optimizer)
    rates = []
    for _ in range(plan.steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    cosine = [0.002 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(3)]
    expected = [1e-5, 1e-5] + [rate for rate in cosine for _ in range(2)]
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_steps_keep_the_per_step_cosine(context):
    options = {**CoOpLearner.info.defaults(), "steps": 7}
    plan = Schedule.of(options, 100)
    assert plan.steps == 7 and plan.epochs is None
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.002)
    assert isinstance(plan.scheduler(optimizer), torch.optim.lr_scheduler.CosineAnnealingLR)


@pytest.mark.parametrize("name", ["coop", "dual-prompt"])
def test_fitting_is_deterministic_for_the_same_rng(context, name):
    x, y = clusters(3, context.text_embeddings.shape[1], seed=1)
    outputs = []
    for seed in (5, 5, 6):
        learner = get_learner(name)(context, **FAST)
        learner.fit(x, y, np.random.default_rng(seed))
        outputs.append(learner.predict_proba(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_coop_learns_separable_clusters(context):
    x, y = clusters(4, context.text_embeddings.shape[1], seed=2)
    test_x, test_y = clusters(20, context.text_embeddings.shape[1], seed=2)
    learner = CoOpLearner(context, steps=60, optimizer="adamw", lr=0.01)
    learner.fit(x, y, np.random.default_rng(0))
    assert (learner.predict_proba(test_x).argmax(1) == test_y).mean() >= 0.8


def test_dual_prompt_outputs_follow_their_definitions(context):
    x, y = clusters(3, context.text_embeddings.shape[1], seed=3)
    learner = DualPromptLearner(context, **FAST)
    learner.fit(x, y, np.random.default_rng(0))
    positive, negative = learner.logits(x)
    p_yes = torch.sigmoid(positive - negative)
    predicted = positive.argmax(1)
    u = learner.correctness_prob(x)
    np.testing.assert_allclose(u, p_yes[torch.arange(len(y)), predicted].numpy(), atol=1e-6)
    np.testing.assert_array_equal(learner.device_outputs()[CORRECTNESS_PROB](x).numpy(), u)
    probs = learner.predict_proba(x)
    np.testing.assert_allclose(probs, torch.softmax(positive, 1).numpy(), atol=1e-6)

    atd = DualPromptLearner(context, uncertainty="atd", **FAST)
    atd.fit(x, y, np.random.default_rng(0))
    expected = (p_yes * torch.softmax(positive, 1)).sum(1).numpy()
    np.testing.assert_allclose(atd.correctness_prob(x), expected, atol=1e-6)

    grad = learner.grad_embedding(x)
    onehot = np.eye(len(NAMES))[probs.argmax(1)]
    np.testing.assert_allclose(grad.scale, probs - onehot, atol=1e-6)
    np.testing.assert_allclose(grad.x, context.logit_scale * learner.embed(x), atol=1e-5)
    on_device = learner.device_outputs()[GRAD_EMBEDDING](x)
    np.testing.assert_array_equal(on_device.scale.numpy(), grad.scale)
    np.testing.assert_array_equal(on_device.x.numpy(), grad.x)
    np.testing.assert_allclose(np.linalg.norm(learner.embed(x), axis=1), 1.0, atol=1e-5)


def test_correctness_target_uses_out_of_fold_predictions(context):
    x, y = clusters(2, context.text_embeddings.shape[1], seed=4)
    learner = DualPromptLearner(context, negative_target="correctness", folds=2, **FAST)
    learner.fit(x, y, np.random.default_rng(0))
    predicted, correct = learner._oof
    assert predicted.shape == (len(y),) and set(predicted.tolist()) <= set(range(len(NAMES)))
    np.testing.assert_array_equal(correct.numpy(), (predicted.numpy() == y).astype(np.float32))
    assert learner.correctness_prob(x).shape == (len(y),)


def test_hyperparameters_record_every_setting(context):
    settings = DualPromptLearner(context, steps=7).hyperparameters()
    assert settings["steps"] == 7 and settings["n_ctx"] == 16 and settings["lr"] == 0.002
    assert settings["negative_target"] == "complementary" and settings["adapter_alpha"] == 0.2
    phrase = DualPromptLearner(context, init="a photo of a").hyperparameters()
    assert phrase["n_ctx"] == 4 and phrase["init"] == "a photo of a"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epoch": 3}, "has no option"),
        ({"warmup_epochs": 1}, "needs epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"negative_target": "x"}, "negative_target"),
        ({"uncertainty": "x"}, "uncertainty"),
        ({"optimizer": "lbfgs"}, "optimizer"),
    ],
)
def test_bad_options_are_user_errors(context, options, message):
    x, y = clusters(1, context.text_embeddings.shape[1], seed=5)
    with pytest.raises(InvalidSpecError, match=message):
        DualPromptLearner(context, **{**FAST, **options}).fit(x, y, np.random.default_rng(0))


def test_a_prompt_learner_needs_the_backbone(context):
    with pytest.raises(InvalidSpecError, match="text tower"):
        CoOpLearner(replace(context, backbone=None))


def test_every_round_starts_afresh_unless_warm_started(context):
    x, y = clusters(3, context.text_embeddings.shape[1], seed=6)

    def two_rounds(**options) -> np.ndarray:
        learner = CoOpLearner(context, **FAST, **options)
        learner.fit(x[::2], y[::2], np.random.default_rng(0))
        learner.fit(x, y, np.random.default_rng(1))
        return learner.predict_proba(x)

    fresh = CoOpLearner(context, **FAST)
    fresh.fit(x, y, np.random.default_rng(1))
    np.testing.assert_array_equal(two_rounds(), fresh.predict_proba(x))
    assert not np.allclose(two_rounds(warm_start=True), fresh.predict_proba(x))
