"""Split preprocessing gives exactly the pixels of the per-image transform.

Extraction runs the PIL part of a backbone's transform per image in DataLoader workers and
ToTensor + Normalize per batch in the main process; the feature cache key records the
transform, not how it is split, so the split must not change a single bit.
"""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image
from torchvision import transforms

from albench.backbones.offline import DEFAULT, GrayToRGB, image_transform
from albench.backbones.preprocess import PilToUint8, split_transform


def _images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    digits[:, 0, :] = 0  # dark border: the offline transform inverts these
    shapes = [(8, 8, 3), (300, 41, 3), (17, 250, 3), (64, 64), (231, 300), (40, 50, 4)]
    arrays = [*digits, *(rng.integers(0, 256, s, dtype=np.uint8) for s in shapes)]
    return [Image.fromarray(a) for a in arrays] + [
        Image.fromarray(load_sample_image("flower.jpg")),
        Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).convert("P"),
    ]


TRANSFORMS = {
    "offline": (image_transform(DEFAULT), torch.channels_last),
    "open_clip": (
        open_clip.image_transform(
            224,
            is_train=False,
            mean=open_clip.OPENAI_DATASET_MEAN,
            std=open_clip.OPENAI_DATASET_STD,
        ),
        torch.contiguous_format,
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_split_preprocessing_is_bit_identical(name):
    transform, memory_format = TRANSFORMS[name]
    split = split_transform(transform, memory_format)
    images = _images()
    expected = torch.stack([transform(image) for image in images])
    shipped = torch.stack([split.per_image(image) for image in images])
    assert shipped.dtype == torch.uint8 and shipped.shape[-1] == 3  # HWC bytes to the main process
    pixels = split.per_batch(shipped)
    assert pixels.dtype == expected.dtype and pixels.shape == expected.shape
    assert pixels.is_contiguous(memory_format=memory_format)
    assert torch.equal(pixels, expected)


def test_transforms_without_to_tensor_normalize_stay_whole():
    def transform(image: Image.Image) -> torch.Tensor:
        return torch.zeros(3, 4, 4)

    split = split_transform(transform, torch.contiguous_format)
    batch = torch.ones(2, 3, 4, 4)
    assert split.per_image is transform and split.per_batch(batch) is batch


@pytest.mark.parametrize("mode", ["1", "F", "I;16"])
def test_non_8_bit_images_are_refused(mode):
    with pytest.raises(ValueError, match=f"8-bit images, got mode '{mode}'"):
        PilToUint8()(Image.new(mode, (4, 4)))


@pytest.mark.parametrize("shape", [(8, 8), (300, 41), (17, 250), (231, 300)])
def test_resizing_one_grey_band_equals_resizing_three(shape):
    """Why the offline transform may resize before GrayToRGB: PIL filters bands alike."""
    grey = Image.fromarray(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8))
    resize = transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC)
    late = np.asarray(GrayToRGB()(resize(grey)))
    early = np.asarray(resize(grey.convert("RGB")))
    assert late.shape == (*early.shape[:2], 3) and np.array_equal(late, early)
