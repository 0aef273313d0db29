"""CLIP backbones from open_clip (Ilharco et al., 2021; Radford et al., ICML 2021).

Spec: ``[open_clip:]MODEL:PRETRAINED`` where PRETRAINED is an open_clip tag
(``ViT-B-32:openai``), a checkpoint file (``ViT-B-32:/path/to/open_clip_model.safetensors``)
or a file holding a tag's weights (``ViT-B-32:openai@/path/to/open_clip_model.safetensors``).
A tag is resolved to a local file *before* open_clip is called, so that missing weights on an
offline machine are reported at once with the command that fetches them, instead of after
the hub client's retries; the model is then always built from that local file, one code path
for tags, checkpoints and the tiny test model. A file is built as its tag would build it
(QuickGELU for OpenAI's weights, the tag's preprocessing) when the spec names the tag or the
file can be traced back to it (:mod:`albench.backbones.checkpoints`); OpenAI's TorchScript
archives load through open_clip's own checkpoint loader.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME
from PIL import Image

from albench.backbones import shared_prefix
from albench.backbones.base import Backbone, TextTower, TokenizedPrompts, VisionTower
from albench.backbones.checkpoints import identify, is_torchscript, quick_gelu_named
from albench.backbones.weights import hub_offline_requested, offline, sha256_file
from albench.errors import CapabilityError, InvalidSpecError, UnknownNameError, WeightsNotFoundError

PREFIX = "open_clip:"
#: where open_clip caches weights fetched by URL rather than from the Hugging Face hub
URL_CACHE_DIR = Path("~/.cache/clip").expanduser()
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz")
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenClipSpec:
    """A parsed spec: open_clip model name, a pretrained tag and/or a checkpoint path.

    ``MODEL:TAG`` names a tag, ``MODEL:PATH`` a file, ``MODEL:TAG@PATH`` a file holding
    that tag's weights (so the model is built as the tag would build it).
    """

    model: str
    tag: str | None
    path: str | None = None

    @property
    def is_path(self) -> bool:
        return self.path is not None

    @property
    def canonical(self) -> str:
        if self.path is None:
            return f"{PREFIX}{self.model}:{self.tag}"
        path = str(Path(self.path).expanduser().resolve())
        named = f"{self.tag}@" if self.tag else ""
        return f"{PREFIX}{self.model}:{named}{path}"


def _looks_like_path(text: str) -> bool:
    return os.sep in text or text.startswith(("~", ".")) or text.endswith(_CHECKPOINT_SUFFIXES)


def parse_spec(spec: str) -> OpenClipSpec:
    """``[open_clip:]MODEL:PRETRAINED`` -> :class:`OpenClipSpec`; unknown names suggest."""
    body = spec.removeprefix(PREFIX)
    model, sep, pretrained = body.partition(":")
    if not sep or not model or not pretrained:
        raise InvalidSpecError(f"open_clip backbone {spec!r} must look like MODEL:PRETRAINED")
    if model not in open_clip.list_models():
        raise UnknownNameError("open_clip model", model, open_clip.list_models())
    tag, at, path = pretrained.partition("@")
    if at and path and open_clip.pretrained.is_pretrained_cfg(model, tag):
        return OpenClipSpec(model, tag, path)
    if _looks_like_path(pretrained):
        return OpenClipSpec(model, None, pretrained)
    if not open_clip.pretrained.is_pretrained_cfg(model, tag):
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise UnknownNameError(f"pretrained tag of {model}", tag, tags)
    return OpenClipSpec(model, pretrained)


def _hf_source(cfg: dict[str, Any]) -> tuple[str, list[str]]:
    """(repo id, candidate filenames, safetensors first) of a tag's Hugging Face weights."""
    repo, filename = os.path.split(cfg["hf_hub"])
    filename = filename or HF_WEIGHTS_NAME
    names = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else []
    if filename.endswith((".bin", ".pth")) and filename != HF_WEIGHTS_NAME:
        names.append(filename[:-4] + ".safetensors")
    return repo, [*names, filename]


def cached_weights(model: str, tag: str) -> Path | None:
    """The local file holding the weights of ``model:tag``, or None when not downloaded yet."""
    cfg = open_clip.pretrained.get_pretrained_cfg(model, tag)
    if cfg.get("file"):
        return Path(cfg["file"]) if Path(cfg["file"]).is_file() else None
    if cfg.get("hf_hub"):
        repo, names = _hf_source(cfg)
        for name in names:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return Path(found)
    if cfg.get("url"):
        candidate = URL_CACHE_DIR / os.path.basename(cfg["url"])
        if candidate.is_file():
            return candidate
    return None


def missing_weights_message(model: str, tag: str) -> str:
    """One line: the command that fetches ``model:tag``'s preferred file into the cache, and
    the path form that loads a copy kept elsewhere exactly as the tag would."""
    cfg = open_clip.pretrained.get_pretrained_cfg(model, tag)
    if cfg.get("hf_hub"):
        repo, names = _hf_source(cfg)
        filename = names[0]  # open_clip downloads the safetensors file when the hub has one
        fetch = f"run `hf download {repo} {filename}` (into {hf_constants.HF_HUB_CACHE})"
    else:
        filename = os.path.basename(cfg["url"])
        fetch = f"download {cfg['url']} into {URL_CACHE_DIR}"
    if hub_offline_requested():
        why, when = "HF_HUB_OFFLINE is set", " with HF_HUB_OFFLINE unset"
    else:
        why, when = "the Hugging Face hub is unreachable", ""
    return (
        f"weights for {model}:{tag} are not available locally and {why}: {fetch}{when}, "
        f"or pass {model}:{tag}@/path/to/{filename} for a copy kept elsewhere"
    )


def _resolve_checkpoint(spec: OpenClipSpec, device: str) -> Path:
    """A local checkpoint for ``spec``; downloads through open_clip only when online."""
    if spec.path is not None:
        # not resolved: a hub cache's symlink keeps the file name that says its format
        path = Path(os.path.abspath(Path(spec.path).expanduser()))
        if not path.is_file():
            raise WeightsNotFoundError(f"checkpoint {path} for open_clip {spec.model} not found")
        return path
    assert spec.tag is not None
    local = cached_weights(spec.model, spec.tag)
    if local is not None:
        return local
    if offline():
        raise WeightsNotFoundError(missing_weights_message(spec.model, spec.tag))
    try:
        open_clip.create_model(spec.model, pretrained=spec.tag, device=device)
    except RuntimeError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"downloading {spec.model}:{spec.tag} failed: {first}"
        raise WeightsNotFoundError(message) from error
    local = cached_weights(spec.model, spec.tag)
    if local is None:
        raise WeightsNotFoundError(missing_weights_message(spec.model, spec.tag))
    return local


def _pretrained_cfg(spec: OpenClipSpec, checkpoint: Path, torchscript: bool) -> dict[str, Any]:
    """The open_clip config of the tag whose details apply: the one the spec names, else the
    one the file is traced back to. Warns in one line when the file and the model config
    disagree about the activation."""
    cfg = open_clip.pretrained.get_pretrained_cfg(spec.model, spec.tag) if spec.tag else {}
    found = None if spec.path is None else identify(spec.model, checkpoint, torchscript=torchscript)
    config_quick = bool(open_clip.get_model_config(spec.model).get("quick_gelu", False))
    where = f"{spec.model}:{spec.path}"
    if cfg and found and found.quick_gelu != bool(cfg.get("quick_gelu", False)):
        log.warning(
            "%s: the file holds %s weights (%s), not %s's; its activation follows %s",
            where, found.name, found.evidence, spec.tag, spec.tag,
        )  # fmt: skip
    cfg = cfg or (found.cfg if found else {})
    if not cfg and not config_quick and quick_gelu_named(checkpoint):
        log.warning(
            "%s: the file name says OpenAI / QuickGELU weights but %s builds GELU; pass "
            "%s:openai@PATH or a -quickgelu model name if the weights were trained with QuickGELU",
            where, spec.model, spec.model,
        )  # fmt: skip
    elif found and config_quick and not found.quick_gelu:
        log.warning(
            "%s: %s builds QuickGELU but the file holds %s weights (%s), trained with GELU",
            where, spec.model, found.name, found.evidence,
        )  # fmt: skip
    return cfg


def load(spec: str, *, device: str = "cpu", backbone_id: str | None = None) -> OpenClipBackbone:
    """Build the backbone of an open_clip spec from a local checkpoint (see module doc)."""
    parsed = parse_spec(spec)
    checkpoint = _resolve_checkpoint(parsed, device)
    torchscript = is_torchscript(checkpoint)
    tag_cfg = _pretrained_cfg(parsed, checkpoint, torchscript)
    preprocess_kwargs = {f"image_{key}": tag_cfg[key] for key in _PREPROCESS_KEYS if key in tag_cfg}
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            parsed.model,
            pretrained=str(checkpoint),
            device=device,
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)) or torchscript,
            weights_only=not torchscript,  # torch.load hands TorchScript zips to torch.jit.load
            **preprocess_kwargs,
        )
    except (RuntimeError, KeyError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidSpecError(
            f"checkpoint {checkpoint} does not load into open_clip model {parsed.model}: {first}"
        ) from error
    tokenizer = open_clip.get_tokenizer(parsed.model)
    return OpenClipBackbone(
        model,
        preprocess,
        tokenizer,
        backbone_id=backbone_id or parsed.canonical,
        checkpoint=checkpoint,
        embed_dim=int(open_clip.get_model_config(parsed.model)["embed_dim"]),
    )


class OpenClipTextTower(TextTower):
    """CLIP's causal text transformer opened at the token-embedding level (CoOp, Zhou et al.,
    IJCV 2022): ``encode_embeddings(token_embedding(ids))`` equals ``model.encode_text(ids)``,
    and prompts may be cut after their longest real token because attention is causal and
    features are taken at the end-of-text position.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Callable[..., torch.Tensor]):
        text = model if hasattr(model, "token_embedding") else getattr(model, "text", None)
        if text is None or not hasattr(text, "token_embedding"):
            raise CapabilityError("this open_clip text tower has no token embedding to prompt")
        if getattr(text, "cls_emb", None) is not None:
            raise CapabilityError("open_clip text towers with a class token are not supported")
        self._pool = getattr(text, "text_pool_type", getattr(text, "pool_type", "argmax"))
        if self._pool not in ("argmax", "eos"):
            raise CapabilityError(f"open_clip text pooling {self._pool!r} is not supported")
        self._eos_id = getattr(text, "text_eos_id", getattr(text, "eos_id", None))
        self._text = text
        self._tokenizer = tokenizer
        self.token_dim = int(text.token_embedding.embedding_dim)
        self.causal = text.attn_mask is not None
        self.depth = len(text.transformer.resblocks)
        self._shared_prefix_reason = shared_prefix.unsupported(text)

    @property
    def _device(self) -> torch.device:
        return self._text.positional_embedding.device

    def tokenize(self, texts: Sequence[str]) -> TokenizedPrompts:
        ids = self._tokenizer(list(texts)).to(self._device)
        if self._pool == "argmax":
            eot = ids.argmax(dim=-1)
        else:
            eot = (ids == self._eos_id).int().argmax(dim=-1)
        return TokenizedPrompts(ids=ids, lengths=eot + 1, eot=eot)

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self._text.token_embedding(ids.to(self._device))

    def _inputs(
        self, embeddings: torch.Tensor, prompts: TokenizedPrompts
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first block's input (positions added) and the attention mask."""
        text = self._text
        length = embeddings.shape[1]
        if int(prompts.eot.max()) >= length:
            raise ValueError(f"prompts cut at {length} tokens lose their end-of-text token")
        x = self._positioned(embeddings, 0)
        mask = None if text.attn_mask is None else text.attn_mask[:length, :length]
        return x, mask

    def encode_embeddings(
        self, embeddings: torch.Tensor, prompts: TokenizedPrompts
    ) -> torch.Tensor:
        x, mask = self._inputs(embeddings, prompts)
        return self._features(self._text.transformer(x, attn_mask=mask), prompts.eot)

    def encode_embeddings_deep(
        self, embeddings: torch.Tensor, prompts: TokenizedPrompts, deep: torch.Tensor, start: int
    ) -> torch.Tensor:
        layers, m, _ = deep.shape
        if layers >= self.depth:
            raise ValueError(f"{layers} deep prompts for a tower of {self.depth} blocks")
        x, mask = self._inputs(embeddings, prompts)
        transformer = self._text.transformer
        for index, block in enumerate(transformer.resblocks):
            if 0 < index <= layers:
                fresh = deep[index - 1].to(x.dtype).expand(x.shape[0], -1, -1)
                x = torch.cat([x[:, :start], fresh, x[:, start + m :]], dim=1)
            if transformer.batch_first:
                x = block(x, attn_mask=mask)
            else:
                x = block(x.transpose(0, 1), attn_mask=mask).transpose(0, 1)
        return self._features(x, prompts.eot)

    def shared_prefix_unsupported(self) -> str | None:
        return self._shared_prefix_reason

    def encode_shared_prefix(
        self, prefix: torch.Tensor, suffix: torch.Tensor, prompts: TokenizedPrompts
    ) -> torch.Tensor:
        reason = self.shared_prefix_unsupported()
        if reason is not None:
            raise CapabilityError(f"no shared-prefix pass: {reason}")
        start = prefix.shape[1]
        if int(prompts.eot.min()) < start or int(prompts.eot.max()) >= start + suffix.shape[2]:
            raise ValueError("the end-of-text tokens must lie in the suffixes")
        x_p, x_s = self._positioned(prefix, 0), self._positioned(suffix, start)
        x_s = shared_prefix.encode(self._text.transformer, x_p, x_s)
        eot = (prompts.eot - start).repeat(prefix.shape[0])
        return self._features(x_s.flatten(0, 1), eot).unflatten(0, suffix.shape[:2])

    def _positioned(self, embeddings: torch.Tensor, start: int) -> torch.Tensor:
        """Embeddings of tokens ``start ..`` in the transformer's dtype, positions added."""
        text = self._text
        dtype = text.transformer.get_cast_dtype()
        positions = text.positional_embedding[start : start + embeddings.shape[-2]]
        return embeddings.to(dtype) + positions.to(dtype)

    def _features(self, x: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """The last block's output -> text features: ``ln_final``, the hidden state at each
        row's end-of-text token, the projection."""
        text = self._text
        x = text.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), eot.to(x.device)]
        projection = text.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


class OpenClipVisionTower(VisionTower):
    """open_clip's ``VisionTransformer`` with prompt tokens after the class token (VPT).

    The tower's own ``_embeds`` (patches, class token, positions, patch dropout, ``ln_pre``)
    and ``_pool`` (``ln_post``, pooling) run unchanged around the blocks, so every pooling
    variant behaves as in ``encode_image``; only the sequence between them is ours. The
    prompts enter after the positional embedding and pass ``ln_pre`` like every token:
    LayerNorm acts on each token alone, so normalising them apart and inserting them after
    ``ln_pre`` is the same. The vision transformer has no attention mask: prompts and image
    tokens attend to each other. ``n = 0`` reproduces ``model.encode_image`` (tested).
    """

    def __init__(self, visual: torch.nn.Module):
        self._visual = visual
        self.width = int(visual.class_embedding.shape[-1])
        self.depth = len(visual.transformer.resblocks)
        self.patch_dim = 3 * math.prod(visual.patch_size)

    def _block(self, block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self._visual.transformer.batch_first:
            return block(x)
        return block(x.transpose(0, 1)).transpose(0, 1)

    def encode_prompted(self, pixels: torch.Tensor, prompts: torch.Tensor) -> torch.Tensor:
        visual = self._visual
        layers, n, width = prompts.shape
        if not 1 <= layers <= self.depth or width != self.width:
            raise ValueError(
                f"prompts of shape {tuple(prompts.shape)}; expected (1 to {self.depth}, n, "
                f"{self.width})"
            )
        x = visual._embeds(pixels.to(visual.class_embedding.device))
        prompts = prompts.to(x.dtype)
        batch = x.shape[0]
        first = visual.ln_pre(prompts[0]).expand(batch, -1, -1)
        x = torch.cat([x[:, :1], first, x[:, 1:]], dim=1)
        for index, block in enumerate(visual.transformer.resblocks):
            if 0 < index < layers:
                fresh = prompts[index].expand(batch, -1, -1)
                x = torch.cat([x[:, :1], fresh, x[:, 1 + n :]], dim=1)
            x = self._block(block, x)
        pooled, _ = visual._pool(torch.cat([x[:, :1], x[:, 1 + n :]], dim=1))
        return pooled if visual.proj is None else pooled @ visual.proj


class OpenClipBackbone(Backbone):
    """A frozen open_clip model behind albench's :class:`Backbone` interface."""

    def __init__(
        self,
        model: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[..., torch.Tensor],
        *,
        backbone_id: str,
        checkpoint: Path,
        embed_dim: int,
    ):
        self.model = model.eval().requires_grad_(False)
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._checkpoint = checkpoint
        self._text_tower: OpenClipTextTower | None = None
        self.id = backbone_id
        self.embed_dim = embed_dim
        self.logit_scale = float(model.logit_scale.exp().item())

    @property
    def checkpoint(self) -> Path:
        """The local weight file the model was loaded from."""
        return self._checkpoint

    @property
    def preprocess_id(self) -> str:
        cfg = self.model.visual.preprocess_cfg
        fields = ",".join(f"{key}={cfg[key]}" for key in sorted(cfg))
        return f"open_clip({fields})"

    @property
    def weights_checksum(self) -> str:
        return sha256_file(self._checkpoint)

    @property
    def device(self) -> torch.device:
        return self.model.logit_scale.device

    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        return self._preprocess

    @torch.no_grad()
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(pixels.to(self.device)), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        ids = self._tokenizer(list(texts)).to(self.device)
        return F.normalize(self.model.encode_text(ids), dim=-1)

    @property
    def text_tower(self) -> OpenClipTextTower:
        if self._text_tower is None:
            self._text_tower = OpenClipTextTower(self.model, self._tokenizer)
        return self._text_tower

    @property
    def vision_tower(self) -> OpenClipVisionTower:
        visual = self.model.visual
        opened = all(hasattr(visual, name) for name in ("_embeds", "_pool"))
        if not isinstance(visual, open_clip.transformer.VisionTransformer) or not opened:
            raise CapabilityError(
                f"backbone {self.id!r} has a {type(visual).__name__} image tower; visual "
                "prompts (n_vpt, the vpt and maple learners) need an open_clip VisionTransformer"
            )
        return OpenClipVisionTower(visual)

    def to(self, device: torch.device | str) -> OpenClipBackbone:
        self.model.to(device)
        return self
