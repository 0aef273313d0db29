"""Feature-space learners: zero-shot, linear probe, CLIP-Adapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from runner_fakes import one_thread  # noqa: F401

from albench.capabilities import EMBED, GRAD_EMBEDDING, MC_PROBABILITIES, PROBABILITIES
from albench.errors import InvalidSpecError, UnknownNameError
from albench.learners import LearnerContext, get_learner, make_learner
from albench.learners.adapter import ResidualAdapter

DIM, N_CLASSES = 16, 4
pytestmark = pytest.mark.usefixtures("one_thread")


def _context(seed: int = 0) -> LearnerContext:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(N_CLASSES, DIM)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    names = tuple(f"class{k}" for k in range(N_CLASSES))
    return LearnerContext(class_names=names, text_embeddings=text, logit_scale=50.0)


def _blobs(context: LearnerContext, n_per_class: int = 10, noise: float = 0.3, seed: int = 1):
    """Separable data: noisy copies of the (perturbed) text embeddings."""
    rng = np.random.default_rng(seed)
    centres = context.text_embeddings + rng.normal(scale=0.5, size=context.text_embeddings.shape)
    labels = np.repeat(np.arange(N_CLASSES), n_per_class)
    features = centres[labels] + rng.normal(scale=noise, size=(len(labels), DIM))
    return features.astype(np.float16), labels


def _unit(features: np.ndarray) -> np.ndarray:
    x = features.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_zero_shot_matches_direct_argmax():
    context = _context()
    features, _ = _blobs(context)
    learner = make_learner("zero-shot", context, {})
    learner.fit(features[:0], np.zeros(0, dtype=np.int64), np.random.default_rng(0))
    probs = learner.predict_proba(features)
    logits = 50.0 * _unit(features) @ context.text_embeddings.T
    np.testing.assert_array_equal(probs.argmax(1), logits.argmax(1))
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), atol=1e-5)


@pytest.mark.parametrize("init", ["text", "random"])
def test_linear_probe_fits_separable_data(init):
    context = _context()
    features, labels = _blobs(context)
    learner = make_learner("linear", context, {"init": init})
    learner.fit(features, labels, np.random.default_rng(0))
    assert (learner.predict_proba(features).argmax(1) == labels).all()


def test_linear_probe_text_init_equals_zero_shot_before_training():
    context = _context()
    features, labels = _blobs(context)
    zero_shot = make_learner("zero-shot", context, {}).predict_proba(features)
    probe = make_learner("linear", context, {})
    np.testing.assert_allclose(probe.predict_proba(features), zero_shot, atol=1e-6)
    probe.fit(features[:0], labels[:0], np.random.default_rng(0))
    np.testing.assert_allclose(probe.predict_proba(features), zero_shot, atol=1e-6)


def test_clip_adapter_without_labels_is_zero_shot_and_learns_with_labels():
    context = _context()
    features, labels = _blobs(context, noise=0.5)
    zero_shot = make_learner("zero-shot", context, {}).predict_proba(features)
    adapter = make_learner("clip-adapter", context, {"steps": 100, "lr": 1e-2})
    adapter.fit(features[:0], labels[:0], np.random.default_rng(0))
    np.testing.assert_allclose(adapter.predict_proba(features), zero_shot, atol=1e-6)
    adapter.fit(features, labels, np.random.default_rng(0))
    after = (adapter.predict_proba(features).argmax(1) == labels).mean()
    before = (zero_shot.argmax(1) == labels).mean()
    assert after > before


def _last_layer_autograd(name: str, learner, features: np.ndarray) -> list[torch.Tensor]:
    """Per-sample gradient of CE(logits, argmax p) w.r.t. the last layer, by autograd."""
    embedded = torch.as_tensor(learner.embed(features))
    if name == "linear":
        weight, bias = learner._weight.clone(), learner._bias
    else:
        weight = learner.context.logit_scale * torch.as_tensor(learner.context.text_embeddings)
        bias = torch.zeros(N_CLASSES)
    weight.requires_grad_(True)
    grads = []
    for x in embedded:
        logits = x[None] @ weight.T + bias
        target = logits.argmax(1)
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, target), weight)
        grads.append(grad)
    return grads


@pytest.mark.parametrize("name", ["zero-shot", "linear", "clip-adapter"])
def test_grad_embedding_factors_match_autograd(name):
    context = _context()
    features, labels = _blobs(context)
    learner = make_learner(name, context, {})
    learner.fit(features, labels, np.random.default_rng(0))
    factors = learner.grad_embedding(features)
    assert factors.scale.shape == (len(labels), N_CLASSES)
    for i, grad in enumerate(_last_layer_autograd(name, learner, features)):
        outer = np.outer(factors.scale[i], factors.x[i])
        np.testing.assert_allclose(outer, grad.numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("name", "options"),
    [("zero-shot", {}), ("linear", {"dropout": 0.3}), ("clip-adapter", {"dropout": 0.3})],
)
def test_device_outputs_are_the_numpy_outputs_as_tensors(name, options):
    """What a GPU run's strategies read on the device is bit for bit what the numpy methods
    return (here the device is the CPU)."""
    context = _context()
    features, labels = _blobs(context)
    learner = make_learner(name, context, options)
    learner.fit(features, labels, np.random.default_rng(0))
    outputs = learner.device_outputs()
    one_pass = {PROBABILITIES, GRAD_EMBEDDING, EMBED}
    assert set(outputs) == (one_pass | {MC_PROBABILITIES} if options else one_pass)
    if options:
        passes = outputs[MC_PROBABILITIES](features, samples=4)
        np.testing.assert_array_equal(passes.numpy(), learner.mc_probabilities(features, 4))
    probabilities = outputs[PROBABILITIES](features)
    assert isinstance(probabilities, torch.Tensor)
    np.testing.assert_array_equal(probabilities.numpy(), learner.predict_proba(features))
    np.testing.assert_array_equal(outputs[EMBED](features).numpy(), learner.embed(features))
    factors, host = outputs[GRAD_EMBEDDING](features), learner.grad_embedding(features)
    np.testing.assert_array_equal(factors.scale.numpy(), host.scale)
    np.testing.assert_array_equal(factors.x.numpy(), host.x)


@pytest.mark.parametrize(
    ("name", "options"),
    [("linear", {"init": "random"}), ("clip-adapter", {"steps": 20})],
)
def test_learners_deterministic_for_same_rng(name, options):
    context = _context()
    features, labels = _blobs(context)
    probs = []
    for seed in (3, 3, 4):
        learner = make_learner(name, context, options)
        learner.fit(features[::2], labels[::2], np.random.default_rng(seed))
        probs.append(learner.predict_proba(features))
    np.testing.assert_array_equal(probs[0], probs[1])
    assert not np.array_equal(probs[0], probs[2])


def test_warm_start_continues_from_previous_parameters():
    context = _context()
    features, labels = _blobs(context)
    cold = make_learner("clip-adapter", context, {"steps": 5})
    warm = make_learner("clip-adapter", context, {"steps": 5, "warm_start": True})
    for learner in (cold, warm):
        for _ in range(2):
            learner.fit(features, labels, np.random.default_rng(0))
    single = make_learner("clip-adapter", context, {"steps": 5})
    single.fit(features, labels, np.random.default_rng(0))
    np.testing.assert_array_equal(cold.predict_proba(features), single.predict_proba(features))
    assert not np.array_equal(warm.predict_proba(features), single.predict_proba(features))


def test_unknown_learner_and_option_are_user_errors():
    with pytest.raises(UnknownNameError, match="did you mean 'linear'"):
        get_learner("linaer")
    with pytest.raises(InvalidSpecError, match="no option 'epochs'"):
        make_learner("linear", _context(), {"epochs": 3})
    with pytest.raises(InvalidSpecError, match="init"):
        make_learner("linear", _context(), {"init": "zeros"})


def test_hyperparameters_record_defaults():
    hyper = make_learner("linear", _context(), {}).hyperparameters()
    assert hyper["init"] == "text" and hyper["weight_decay"] == 1e-4
    assert hyper["optimizer"] == "lbfgs"


def test_prompt_learner_options_are_checked_before_anything_is_built():
    from albench.errors import InvalidSpecError
    from albench.learners.registry import check_options

    check_options("dual-prompt", {"steps": 3, "lr": 0.01})
    with pytest.raises(InvalidSpecError, match=r"has no option 'stepz'; options: .*steps"):
        check_options("dual-prompt", {"stepz": 3})


def test_clip_adapter_probabilities_after_fit_are_unchanged():
    """Values recorded from the first implementation: refactors keep results exact."""
    context = _context()
    features, labels = _blobs(context, n_per_class=3)
    learner = make_learner("clip-adapter", context, {"steps": 20})
    learner.fit(features, labels, np.random.default_rng(0))
    expected = [
        [1.0, 0.0, 0.0, 0.0],
        [0.58720863, 0.0, 0.0, 0.41279131],
        [0.96068972, 0.03929912, 0.0, 1.125e-05],
        [0.98062426, 0.01926995, 0.0, 0.00010576],
    ]
    np.testing.assert_allclose(learner.predict_proba(features[:4]), expected, atol=1e-6)


def test_residual_adapter_draws_uniform_weights_in_layer_order():
    """kaiming_uniform_(a=sqrt(5)) is bit for bit (rand * 2 - 1) / sqrt(fan_in), W_1 first."""
    adapter = ResidualAdapter(DIM, 0.2, 4, torch.Generator().manual_seed(7))
    generator = torch.Generator().manual_seed(7)
    for weight in (adapter.down.weight, adapter.up.weight):
        bound = 1.0 / math.sqrt(weight.shape[1])
        expected = (torch.rand(weight.shape, generator=generator) * 2.0 - 1.0) * bound
        assert torch.equal(weight.detach(), expected)


def test_residual_adapter_at_alpha_zero_is_the_identity_on_unit_rows():
    adapter = ResidualAdapter(DIM, 0.0, 4, torch.Generator().manual_seed(0))
    x = torch.nn.functional.normalize(torch.randn(5, DIM, generator=torch.Generator()), dim=1)
    torch.testing.assert_close(adapter(x), x)
    assert adapter.trainable() == []
    assert len(ResidualAdapter(DIM, 0.2, 4, torch.Generator()).trainable()) == 2


@pytest.mark.parametrize("name", ["linear", "zero-shot"])
def test_linear_head_on_embed_reproduces_the_learners_probabilities(name):
    context = _context()
    features, labels = _blobs(context, noise=0.5)
    learner = make_learner(name, context, {})
    learner.fit(features, labels, np.random.default_rng(0))
    head = learner.linear_head(features)
    np.testing.assert_allclose(
        head.probabilities(learner.embed(features)), learner.predict_proba(features), atol=1e-5
    )
    assert "linear_head" in learner.capabilities
