"""``tiny-clip``: a very small randomly initialised open_clip model for fast tests.

The architecture is an open_clip config (ViT image tower, causal text transformer with the
standard CLIP tokenizer), registered with open_clip; its weights are drawn once from a fixed
``torch.Generator`` seed, saved atomically under albench's cache, and then loaded through the
same ``MODEL:/path/to/checkpoint`` code path as any real CLIP checkpoint, so tests on it
exercise the real loading, preprocessing and text-tower code.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import open_clip
import torch

from albench.backbones.openclip import OpenClipBackbone, load
from albench.backbones.weights import cache_dir
from albench.files import write_atomic

NAME = "tiny-clip"
MODEL_NAME = "albench-tiny-clip"
SEED = 20260521
#: bump when the config or the initialisation rule changes, so stale files are not reused
VERSION = 1
CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "head_width": 32, "layers": 2},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def _directory() -> Path:
    return cache_dir() / "backbones" / NAME


def register_config() -> None:
    """Make ``albench-tiny-clip`` known to open_clip (idempotent)."""
    if MODEL_NAME in open_clip.list_models():
        return
    path = _directory() / f"{MODEL_NAME}.json"
    text = json.dumps(CONFIG, indent=1, sort_keys=True)
    if not path.is_file() or path.read_text() != text:
        write_atomic(path, text.encode())
    open_clip.add_model_config(path)


def _initial_value(name: str, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """Deterministic initial value of one tensor: LayerNorm gains 1, biases 0, CLIP's
    logit scale log(1/0.07), everything else N(0, 1/fan_in)."""
    if name == "logit_scale":
        return torch.full(shape, math.log(1 / 0.07))
    if name.endswith("bias"):
        return torch.zeros(shape)
    if len(shape) == 1 and name.endswith("weight"):
        return torch.ones(shape)
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return torch.randn(shape, generator=generator) * fan_in**-0.5


def initial_state_dict() -> dict[str, torch.Tensor]:
    """The tiny model's weights, a pure function of :data:`SEED` (no global RNG)."""
    register_config()
    with torch.device("meta"):
        skeleton = open_clip.model.CLIP(**open_clip.get_model_config(MODEL_NAME))
    generator = torch.Generator().manual_seed(SEED)
    shapes = {name: tensor.shape for name, tensor in skeleton.state_dict().items()}
    return {name: _initial_value(name, shapes[name], generator) for name in sorted(shapes)}


def checkpoint_path() -> Path:
    """The tiny model's checkpoint, written once (atomically) on first use."""
    path = _directory() / f"{MODEL_NAME}-v{VERSION}-seed{SEED}.pt"
    if not path.is_file():
        buffer = io.BytesIO()
        torch.save(initial_state_dict(), buffer)
        write_atomic(path, buffer.getvalue())
    return path


def load_tiny(*, device: str = "cpu") -> OpenClipBackbone:
    """``tiny-clip`` through the ordinary open_clip checkpoint path."""
    register_config()
    return load(f"{MODEL_NAME}:{checkpoint_path()}", device=device, backbone_id=NAME)
