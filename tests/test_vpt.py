"""Visual prompt tuning: the prompted ViT forward of open_clip image towers.

Everything runs on ``tiny-clip`` (a random two-layer open_clip ViT on 32 x 32 images).
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from torch.nn import functional as F

from albench.backbones import get_backbone
from albench.backbones.openclip import OpenClipBackbone
from albench.errors import CapabilityError


@pytest.fixture(scope="module")
def tiny():
    return get_backbone("tiny-clip")


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
