"""Checkpoint files load exactly as their pretrained tag would: QuickGELU, preprocessing,
Hugging Face cache layouts, OpenAI TorchScript archives, and the one-line mismatch warning.

The tiny open_clip config gets two pretrained tags here, ``openai`` (trained with QuickGELU,
as OpenAI's are) and ``laion`` (GELU), whose weights sit in a Hugging Face cache laid out as
``huggingface_hub`` writes it; its random weights give different features under GELU and
QuickGELU, so a wrong activation shows in the numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import open_clip
import pytest
import torch
from huggingface_hub import constants as hf_constants
from safetensors.torch import save_file

from albench.backbones import get_backbone, openclip, tiny
from albench.backbones.checkpoints import hub_repo, is_torchscript

MODEL = tiny.MODEL_NAME
OPENAI_REPO = "albench/tiny-clip.openai"
LAION_REPO = "albench/tiny-clip.laion"
WARNINGS = "albench.backbones.openclip"


def _tag(repo: str, **options) -> dict:
    return open_clip.pretrained._pcfg(hf_hub=f"{repo}/", **options)


def write_hub_file(cache: Path, repo: str, filename: str, data: bytes) -> Path:
    """``filename`` of ``repo`` in a Hugging Face cache, as ``huggingface_hub`` stores it:
    content in ``blobs/<sha256>``, a relative symlink in ``snapshots/<commit>/``, the
    commit in ``refs/main``."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = hashlib.sha1(repo.encode()).hexdigest()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    snapshot = folder / "snapshots" / commit / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.symlink_to(Path("..", "..", "blobs", blob.name))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """Tiny-clip tags ``openai`` and ``laion`` with their weights in a fresh hub cache."""
    monkeypatch.setenv("ALBENCH_CACHE", str(tmp_path / "albench"))
    cache = tmp_path / "hf"
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(openclip, "URL_CACHE_DIR", tmp_path / "clip")
    tiny.register_config()
    quick = tmp_path / "configs" / f"{MODEL}-quickgelu.json"
    quick.parent.mkdir()
    quick.write_text(json.dumps({**tiny.CONFIG, "quick_gelu": True}))
    monkeypatch.setitem(open_clip.factory._MODEL_CONFIGS, quick.stem, {})
    open_clip.add_model_config(quick)
    openai = _tag(OPENAI_REPO, quick_gelu=True)
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, MODEL, {"openai": openai})
    open_clip.pretrained._PRETRAINED[MODEL]["laion"] = _tag(LAION_REPO, mean=(0.5,) * 3)
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, quick.stem, {"openai": openai})
    save_file(tiny.initial_state_dict(), tmp_path / "weights.safetensors")
    data = (tmp_path / "weights.safetensors").read_bytes()
    for repo in (OPENAI_REPO, LAION_REPO):
        write_hub_file(cache, repo, "open_clip_model.safetensors", data)
    return cache


def features(spec: str) -> torch.Tensor:
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return get_backbone(spec).encode_image(pixels)


def snapshot_of(cache: Path, repo: str) -> Path:
    return next((cache / f"models--{repo.replace('/', '--')}" / "snapshots").glob("*/*"))


def test_path_forms_match_the_tag_form_and_plain_gelu_differs(hub, tmp_path, caplog):
    reference = features(f"{MODEL}:openai")
    cached = snapshot_of(hub, OPENAI_REPO)
    elsewhere = tmp_path / "weights" / "model.safetensors"
    elsewhere.parent.mkdir()
    shutil.copyfile(cached, elsewhere)
    with caplog.at_level(logging.WARNING, logger=WARNINGS):
        for spec in (
            f"{MODEL}:{cached}",  # traced back through the hub cache folder
            f"{MODEL}:openai@{elsewhere}",  # the tag named in the spec
            f"{MODEL}-quickgelu:{elsewhere}",  # open_clip's -quickgelu model name
        ):
            torch.testing.assert_close(features(spec), reference, atol=1e-6, rtol=0)
    assert caplog.records == []
    gelu = features(f"{MODEL}:{elsewhere}")
    assert (gelu - reference).abs().max() > 1e-3
    assert get_backbone(f"{MODEL}:openai@{elsewhere}").id == f"open_clip:{MODEL}:openai@{elsewhere}"


def test_a_path_form_takes_the_tags_preprocessing(hub):
    cached = snapshot_of(hub, LAION_REPO)
    assert "mean=(0.5, 0.5, 0.5)" in get_backbone(f"{MODEL}:{cached}").preprocess_id
    assert "mean=(0.5, 0.5, 0.5)" in get_backbone(f"{MODEL}:laion").preprocess_id


def test_one_line_warnings_when_file_and_config_disagree(hub, tmp_path, caplog):
    named = tmp_path / "tiny-openai.safetensors"
    shutil.copyfile(snapshot_of(hub, OPENAI_REPO), named)
    laion = snapshot_of(hub, LAION_REPO)
    with caplog.at_level(logging.WARNING, logger=WARNINGS):
        get_backbone(f"{MODEL}:{named}")
        get_backbone(f"{MODEL}:openai@{laion}")
        get_backbone(f"{MODEL}-quickgelu:{laion}")
    assert [record.getMessage() for record in caplog.records] == [
        f"{MODEL}:{named}: the file name says OpenAI / QuickGELU weights but {MODEL} builds "
        f"GELU; pass {MODEL}:openai@PATH or a -quickgelu model name if the weights were "
        "trained with QuickGELU",
        f"{MODEL}:{laion}: the file holds {MODEL}:laion weights (it lies in the Hugging Face "
        f"cache of {LAION_REPO}), not openai's; its activation follows openai",
        f"{MODEL}-quickgelu:{laion}: {MODEL}-quickgelu builds QuickGELU but the file holds "
        f"{MODEL}:laion weights (it lies in the Hugging Face cache of {LAION_REPO}), trained "
        "with GELU",
    ]


def test_hub_repo_is_read_from_the_cache_folder_name(tmp_path):
    path = tmp_path / "models--timm--vit_base_patch32_clip_224.openai" / "snapshots" / "a" / "f"
    assert hub_repo(path) == "timm/vit_base_patch32_clip_224.openai"
    assert hub_repo(tmp_path / "weights.bin") is None


def scripted_archive(path: Path) -> Path:
    """A TorchScript archive of the tiny model with QuickGELU, as OpenAI ships CLIP."""
    model = open_clip.create_model(MODEL, force_quick_gelu=True)
    model.load_state_dict(tiny.initial_state_dict())
    mask = model._buffers.pop("attn_mask")  # OpenAI's archives hold it outside the state dict
    model.attn_mask = mask
    model.register_buffer("input_resolution", torch.tensor(32))  # one of OpenAI's extra keys
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(model), str(path))
    return path


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_openai_torchscript_archives_load_through_open_clip(hub, tmp_path):
    reference = features(f"{MODEL}:openai")
    archive = scripted_archive(tmp_path / "elsewhere" / "ViT-tiny.pt")
    assert is_torchscript(archive) and not is_torchscript(snapshot_of(hub, OPENAI_REPO))
    assert not is_torchscript(tiny.checkpoint_path())  # torch.save writes a zip too
    torch.testing.assert_close(features(f"{MODEL}:{archive}"), reference, atol=1e-6, rtol=0)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    url = f"https://openaipublic.example/clip/models/{digest}/ViT-tiny.pt"
    open_clip.pretrained._PRETRAINED[MODEL]["openai"] = _tag("none/none", url=url, quick_gelu=True)
    shutil.rmtree(hub / f"models--{OPENAI_REPO.replace('/', '--')}")
    openclip.URL_CACHE_DIR.mkdir()
    shutil.copyfile(archive, openclip.URL_CACHE_DIR / "ViT-tiny.pt")  # where open_clip keeps it
    torch.testing.assert_close(features(f"{MODEL}:openai"), reference, atol=1e-6, rtol=0)
