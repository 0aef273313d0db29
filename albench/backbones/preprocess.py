"""A backbone's image transform split into a per-image part and a per-batch part.

Feature extraction runs the transform in DataLoader workers that share the CPU cores with
the encoder's threads, so every millisecond a worker spends on an image is taken from the
model. A torchvision pipeline ending in ``ToTensor`` + ``Normalize`` spends most of its
per-image time on those two float passes (a strided HWC -> CHW copy, a division, a
subtraction and a division over 150k values at 224 px). Split off, workers stop at uint8
HWC pixels (a quarter of the bytes to ship to the main process) and the main process
converts whole batches, writing them straight into the memory layout the encoder computes
in. The float operations are ToTensor's and Normalize's own, in the same order, so the
pixels are bit-identical to the per-image transform's (tests/test_backbones.py checks it):
features, and the cache key that records the preprocessing, do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import functional as TF


@dataclass(frozen=True)
class Preprocessing:
    """``per_image`` runs in DataLoader workers (picklable); ``per_batch`` on the collated
    batch in the main process. ``per_batch(stack(per_image(x) ...))`` equals
    ``stack(transform(x) ...)`` exactly."""

    per_image: Callable[[Image.Image], torch.Tensor]
    per_batch: Callable[[torch.Tensor], torch.Tensor]


class PilToUint8:
    """PIL image -> (H, W, C) uint8 tensor: the values ToTensor reads, before its float pass."""

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if image.mode in ("1", "I", "I;16", "F"):
            raise ValueError(f"batched preprocessing needs 8-bit images, got mode {image.mode!r}")
        array = np.array(image, dtype=np.uint8)
        return torch.from_numpy(array[:, :, None] if array.ndim == 2 else array)


class BatchToTensorNormalize:
    """(B, H, W, C) uint8 -> (B, C, H, W) float, ToTensor then Normalize on a whole batch."""

    def __init__(
        self, mean: Sequence[float], std: Sequence[float], memory_format: torch.memory_format
    ):
        self.mean, self.std, self.memory_format = mean, std, memory_format

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = batch.permute(0, 3, 1, 2).to(
            torch.get_default_dtype(), memory_format=self.memory_format
        )
        return TF.normalize(pixels.div_(255), self.mean, self.std, inplace=True)


def _unchanged(batch: torch.Tensor) -> torch.Tensor:
    return batch


def split_transform(
    transform: Callable[[Image.Image], torch.Tensor], memory_format: torch.memory_format
) -> Preprocessing:
    """Split a ``Compose`` ending in ToTensor + Normalize; any other transform stays whole."""
    steps = list(getattr(transform, "transforms", ()))
    if (
        len(steps) >= 2
        and isinstance(steps[-2], transforms.ToTensor)
        and isinstance(steps[-1], transforms.Normalize)
    ):
        normalize = steps[-1]
        return Preprocessing(
            transforms.Compose([*steps[:-2], PilToUint8()]),
            BatchToTensorNormalize(normalize.mean, normalize.std, memory_format),
        )
    return Preprocessing(transform, _unchanged)
