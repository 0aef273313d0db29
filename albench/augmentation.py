"""Augmented views of a pool image: CoOp's random-resized crop and horizontal flip, seeded.

CoOp (Zhou et al., IJCV 2022) and PCB (Bang et al., CVPR 2024) train on images augmented
afresh every epoch by Dassl's train transform (``configs/trainers/CoOp/*.yaml`` and PCB's
``configs/trainers/ALVLM/*.yaml``: ``INPUT.TRANSFORMS`` random_resized_crop, random_flip,
normalize; ``INPUT.INTERPOLATION`` bicubic). Dassl's ``_build_transform_train`` puts
torchvision's ``RandomResizedCrop(INPUT.SIZE, scale=INPUT.RRCROP_SCALE)`` (scale (0.08, 1),
``dassl/config/defaults.py``; ratio torchvision's default (3/4, 4/3)) and
``RandomHorizontalFlip()`` (p 0.5) where the test transform resizes and centre-crops.

albench trains on cached features, so its surrogate is a finite set of views per image,
encoded once: view 0 is the backbone's own (centre-crop) preprocessing, view v >= 1 is the
same transform with its resize + centre crop replaced by a random-resized crop at the
backbone's input size and a coin-flip mirror. The crop box and the flip of view v of image
i are drawn with numpy from ``albench.seeding.stream(seed, "views", dataset, split, i, v)``
by torchvision's own rule (``RandomResizedCrop.get_params``), then applied with
torchvision's functional ops: a view is a pure function of (dataset, split, image, view),
whatever the batch order, batch size or number of DataLoader workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import functional as TF

from albench.backbones.preprocess import split_transform
from albench.errors import FeatureError
from albench.seeding import stream

#: bump when the rule that turns a seed into a view changes; part of the cache key
VERSION = 1
_GEOMETRY = (transforms.Resize, transforms.CenterCrop)


@dataclass(frozen=True)
class Augmentation:
    """The random-resized crop + flip of the augmented views, with CoOp's parameters.

    ``scale``: range of the crop's area as a share of the image's; ``ratio``: range of its
    aspect ratio (width / height); ``flip``: probability of a horizontal mirror;
    ``interpolation``: how the crop is resized to the backbone's input size; ``seed``: the
    seed of the per-(image, view) streams.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: float = 0.5
    interpolation: str = "bicubic"
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        """A stable description (part of the feature-cache key of augmented views)."""
        return {
            "crop": "random-resized",
            "scale": list(self.scale),
            "ratio": list(self.ratio),
            "flip": self.flip,
            "interpolation": self.interpolation,
            "seed": self.seed,
            "version": VERSION,
        }

    def box(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a crop: torchvision's ``RandomResizedCrop.get_params``
        (ten tries at a random area and log-uniform aspect ratio, then a centre crop of the
        nearest allowed ratio), drawn from ``rng``."""
        area = height * width
        low, high = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(low, high))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        ratio = width / height
        if ratio < min(self.ratio):
            w, h = width, round(width / min(self.ratio))
        elif ratio > max(self.ratio):
            w, h = round(height * max(self.ratio)), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def view_rng(self, dataset: str, split: str, index: int, view: int) -> np.random.Generator:
        """The stream of view ``view`` of image ``index`` of ``dataset``/``split``."""
        return stream(self.seed, "views", dataset, split, str(index), str(view))


#: CoOp's augmentation (the default of the feature cache's augmented views)
COOP = Augmentation()


class ViewTransform:
    """The backbone's transform with its resize + centre crop replaced by the seeded crop.

    Called per image in DataLoader workers (picklable), it returns the per-image part of
    the preprocessing (``Preprocessing.per_image``) of views 1..``views``-1, stacked; the
    per-batch part is :attr:`per_batch`, as for the plain features.
    """

    def __init__(
        self,
        transform: Callable[[Image.Image], torch.Tensor],
        memory_format: torch.memory_format,
        augmentation: Augmentation,
        views: int,
        where: tuple[str, str],
    ):
        steps = list(getattr(transform, "transforms", ()))
        geometry = [i for i, step in enumerate(steps) if isinstance(step, _GEOMETRY)]
        if not geometry or geometry != list(range(geometry[0], geometry[-1] + 1)):
            raise FeatureError(
                "augmented views need a backbone transform that resizes and centre-crops "
                "(torchvision Resize / CenterCrop) to replace with random crops; this one "
                f"does not: {transform!r}"
            )
        self.size = _output_size(steps[geometry[-1]])
        self.head = transforms.Compose(steps[: geometry[0]])
        tail = split_transform(transforms.Compose(steps[geometry[-1] + 1 :]), memory_format)
        self.tail, self.per_batch = tail.per_image, tail.per_batch
        self.augmentation, self.views, self.where = augmentation, views, where
        self.mode = transforms.InterpolationMode(augmentation.interpolation)

    def view(self, image: Image.Image, index: int, view: int) -> torch.Tensor:
        """The per-image part of view ``view`` of ``image`` (image ``index`` of the split)."""
        rng = self.augmentation.view_rng(*self.where, index, view)
        width, height = image.size
        top, left, h, w = self.augmentation.box(height, width, rng)
        crop = TF.resized_crop(image, top, left, h, w, list(self.size), self.mode, antialias=True)
        if rng.random() < self.augmentation.flip:
            crop = TF.hflip(crop)
        return self.tail(crop)

    def __call__(self, image: Image.Image, index: int) -> torch.Tensor:
        """(views - 1, ...) the augmented views 1..views-1 of image ``index``."""
        image = self.head(image)
        return torch.stack([self.view(image, index, v) for v in range(1, self.views)])


def _output_size(step: Any) -> tuple[int, int]:
    """(height, width) a centre crop, or a resize to a fixed shape, produces."""
    size = step.size
    if isinstance(step, transforms.CenterCrop) or (not isinstance(size, int) and len(size) == 2):
        return int(size[0]), int(size[-1])
    raise FeatureError(
        f"augmented views need the backbone's input size, but its transform ends with "
        f"{step!r}, whose output size depends on the image"
    )
