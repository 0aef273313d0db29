"""The one interface every backbone implements.

A backbone turns images and texts into L2-normalised vectors of one shared space, and
exposes its text tower at the token-embedding level so that prompt learners can feed
learnable context vectors in place of word embeddings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from albench.backbones.preprocess import Preprocessing, split_transform
from albench.errors import CapabilityError


@dataclass(frozen=True)
class TokenizedPrompts:
    """Token ids of prompts, as the text tower needs them.

    ``ids``: (n, L) token ids, padded; ``lengths``: (n,) real length of each prompt
    (including start/end tokens); ``eot``: (n,) index of the token whose output is pooled
    (CLIP's end-of-text token) or -1 where the tower pools by mean over real tokens.
    """

    ids: torch.Tensor
    lengths: torch.Tensor
    eot: torch.Tensor


class TextTower(ABC):
    """Text encoder opened at the token-embedding level (for CoOp-style prompts)."""

    #: width of one token embedding (the size of a learnable context vector)
    token_dim: int
    #: whether the transformer is causal (outputs at position i see tokens <= i only);
    #: a causal tower lets prompts be cut at their longest real length with equal outputs
    causal: bool
    #: number of transformer blocks deep prompts can enter (0: none, see encode_embeddings_deep)
    depth: int = 0

    @abstractmethod
    def tokenize(self, texts: Sequence[str]) -> TokenizedPrompts:
        """Token ids of ``texts``."""

    @abstractmethod
    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        """(n, L) ids -> (n, L, token_dim) input embeddings (before positions)."""

    @abstractmethod
    def encode_embeddings(
        self, embeddings: torch.Tensor, prompts: TokenizedPrompts
    ) -> torch.Tensor:
        """(n, L, token_dim) input embeddings -> (n, embed_dim) text features (not normalised)."""

    def encode_embeddings_deep(
        self, embeddings: torch.Tensor, prompts: TokenizedPrompts, deep: torch.Tensor, start: int
    ) -> torch.Tensor:
        """:meth:`encode_embeddings` with deep prompts (MaPLe, Khattak et al., CVPR 2023):
        before block i = 1 .. D, the outputs at positions ``start .. start + m`` are replaced
        by ``deep[i - 1]``, of the (D, m, token_dim) ``deep``; later blocks keep them. D = 0
        is :meth:`encode_embeddings`. Only towers whose blocks can be run one by one do this.
        """
        raise CapabilityError(
            f"the {type(self).__name__} text tower takes no deep prompts; MaPLe needs an "
            "open_clip text transformer"
        )

    def shared_prefix_unsupported(self) -> str | None:
        """Why :meth:`encode_shared_prefix` cannot run on this tower, or None when it can."""
        return f"{type(self).__name__} has no shared-prefix pass"

    def encode_shared_prefix(
        self, prefix: torch.Tensor, suffix: torch.Tensor, prompts: TokenizedPrompts
    ) -> torch.Tensor:
        """:meth:`encode_embeddings` of the C sequences ``[prefix_g; suffix_gc]`` for each of G
        prefixes, computing each prefix once: (G, P, token_dim) prefixes and (G, C, S,
        token_dim) suffixes -> (G, C, embed_dim). ``prompts`` are the C prompts (P + S ids)."""
        raise CapabilityError(self.shared_prefix_unsupported() or "no shared-prefix pass")


class VisionTower(ABC):
    """A ViT image encoder opened at the token level (for visual prompt tuning).

    The tower turns an image into the sequence ``[CLS, patch_1 .. patch_m]`` of
    ``width``-wide tokens that ``depth`` transformer blocks refine; learnable prompt tokens
    are inserted after the class token (Jia et al., "Visual Prompt Tuning", ECCV 2022).
    """

    #: width of one token (the size of a learnable prompt vector)
    width: int
    #: number of transformer blocks
    depth: int
    #: values in one patch (3 * p * p), the fan-in of the patch embedding
    patch_dim: int

    @abstractmethod
    def encode_prompted(self, pixels: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) pixels and (D, n, width) prompts -> (B, embed_dim) image features
        (not normalised), with gradients flowing into ``prompts`` only.

        D = 1: the n prompts join the sequence before the first block (VPT-shallow);
        D = ``depth``: before every block, fresh prompts replace the previous block's prompt
        outputs (VPT-deep); 1 < D < ``depth``: before the first D blocks only, later blocks
        keep the prompt outputs (MaPLe's prompt depth). Prompts get no positional embedding;
        their outputs are dropped before pooling. With n = 0 this is the tower's plain forward.
        """


class Backbone(ABC):
    """Image and text encoders of one joint embedding space."""

    #: canonical name, e.g. ``open_clip:ViT-B-32:openai`` or ``offline-effnet-minilm``
    id: str
    #: dimension of the joint space
    embed_dim: int
    #: temperature applied to cosine similarities for classification (CLIP's exp(logit_scale))
    logit_scale: float
    #: memory layout ``encode_image`` computes in; batched preprocessing writes pixels in it
    pixel_format: torch.memory_format = torch.contiguous_format

    @property
    @abstractmethod
    def preprocess_id(self) -> str:
        """A description of the image preprocessing, part of the feature-cache key."""

    @property
    @abstractmethod
    def weights_checksum(self) -> str:
        """Checksum identifying the weights, part of the feature-cache key."""

    @abstractmethod
    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """PIL image -> preprocessed (C, H, W) tensor."""

    def preprocessing(self) -> Preprocessing:
        """:meth:`transform` split for extraction: the PIL work per image in DataLoader
        workers, the float conversion per batch in :attr:`pixel_format` (same pixels)."""
        return split_transform(self.transform(), self.pixel_format)

    @abstractmethod
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) preprocessed batch -> (B, embed_dim) L2-normalised features."""

    @abstractmethod
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts -> (n, embed_dim) L2-normalised features."""

    @property
    @abstractmethod
    def text_tower(self) -> TextTower:
        """The text encoder at token level (frozen; gradients flow to inputs only)."""

    @property
    def vision_tower(self) -> VisionTower:
        """The image encoder at token level, for visual prompt tuning (ViT towers only)."""
        raise CapabilityError(
            f"backbone {self.id!r} has no ViT image tower to prompt; visual prompts (n_vpt, "
            "the vpt and maple learners) need an open_clip ViT backbone"
        )

    def to(self, device: torch.device | str) -> Backbone:
        """Move the encoders to ``device``; returns self."""
        return self
