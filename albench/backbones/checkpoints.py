"""Which pretrained tag a checkpoint file holds, and whether it is an OpenAI TorchScript archive.

open_clip builds an architecture from the model name alone. Details that come with a
pretrained tag are lost when the same weights are passed as a file: OpenAI's CLIP weights
were trained with QuickGELU (Radford et al., ICML 2021; open_clip's ``quick_gelu`` tags) and
give degraded features, without any error, in a model built with GELU. So a checkpoint path
is traced back to its tag when something says which one it is: the spec names it
(``MODEL:TAG@PATH``), the file lies in the Hugging Face cache folder of the tag's repository
(``models--ORG--NAME``, the layout ``huggingface_hub`` writes), its sha256 is the digest in
the tag's download URL (OpenAI's URLs carry it), or it is one of OpenAI's TorchScript
archives (``torch.jit.save`` zips, which open_clip loads as OpenAI weights).
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import open_clip

from albench.backbones.weights import sha256_file

_URL_DIGEST = re.compile(r"/([0-9a-f]{64})/")
_HUB_FOLDER = "models--"
_QUICK_GELU_WORDS = re.compile(r"openai|quick_?gelu", re.IGNORECASE)


@dataclass(frozen=True)
class Identity:
    """A checkpoint traced back to pretrained tag ``name`` (``MODEL:TAG``), whose open_clip
    config is ``cfg``; ``evidence`` says how it was traced."""

    name: str
    cfg: dict
    evidence: str

    @property
    def quick_gelu(self) -> bool:
        return bool(self.cfg.get("quick_gelu", False))


def is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with ``constants.pkl``, as
    ``torch.jit.save`` writes and OpenAI's original ``ViT-B-32.pt`` files are)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") for name in archive.namelist())


def hub_repo(path: Path) -> str | None:
    """``ORG/NAME`` when ``path`` lies in a Hugging Face cache folder ``models--ORG--NAME``."""
    for parent in Path(os.path.abspath(path)).parents:
        if parent.name.startswith(_HUB_FOLDER):
            return parent.name.removeprefix(_HUB_FOLDER).replace("--", "/")
    return None


def tag_repo(cfg: dict) -> str | None:
    """The Hugging Face repository (``ORG/NAME``) of a pretrained tag's config, if any."""
    parts = cfg.get("hf_hub", "").strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else None


def _tags(model: str) -> dict[str, dict]:
    """``MODEL:TAG`` -> config, for ``model`` and, for a ``-quickgelu`` name, its base model
    (the same architecture; its GELU tags are what a mismatch would load)."""
    owners = dict.fromkeys((model, model.removesuffix("-quickgelu")))
    return {
        f"{owner}:{tag}": open_clip.get_pretrained_cfg(owner, tag)
        for owner in owners
        for tag in open_clip.list_pretrained_tags_by_model(owner)
    }


def identify(model: str, path: Path, *, torchscript: bool) -> Identity | None:
    """The tag whose weights ``path`` holds, from where it lies, its digest or its format."""
    tags = _tags(model)
    repo = hub_repo(path)
    for name, cfg in tags.items():
        if repo is not None and tag_repo(cfg) == repo:
            return Identity(name, cfg, f"it lies in the Hugging Face cache of {repo}")
    digests = {
        match.group(1): name
        for name, cfg in tags.items()
        if (match := _URL_DIGEST.search(cfg.get("url", "")))
    }
    if digests:
        name = digests.get(sha256_file(path))
        if name is not None:
            return Identity(name, tags[name], "its sha256 is the one its download URL names")
    openai = f"{model}:openai"
    if torchscript and openai in tags:
        return Identity(openai, tags[openai], "it is an OpenAI TorchScript archive")
    return None


def quick_gelu_named(path: Path) -> bool:
    """Whether the file's name or its hub folder says OpenAI or QuickGELU weights."""
    names = f"{path.name} {hub_repo(path) or ''}"
    return bool(_QUICK_GELU_WORDS.search(names))
