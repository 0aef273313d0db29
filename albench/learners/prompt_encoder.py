"""Learnable text prompts through a frozen text tower (CoOp's context optimisation).

Each class k is encoded from the token sequence ``[SOS] X_1 ... X_M <class name>. [EOT]``
where ``X_1..X_M`` are learnable context vectors that replace word embeddings (Zhou et al.,
"Learning to Prompt for Vision-Language Models", IJCV 2022). The tower stays frozen; only the
context vectors receive gradients.

Two details make a training step cheap without changing its result:

* the start-token and class-name token embeddings never change, so they are looked up once
  and cached (``prefix`` / ``suffix`` buffers);
* every prompt is cut at the longest real prompt instead of the tower's full context length
  (77 for CLIP). For a causal tower the pooled end-of-text output only sees earlier tokens,
  and for a bidirectional tower padding is masked by the prompt lengths, so the outputs are
  identical while the sequence is typically 3-4x shorter;
* with a context shared by all classes, the start token and the context are the same first
  tokens of every class's prompt, so a causal tower computes their hidden states once per
  context and runs only the class-name tokens per class (``shared_prefix``, the tower's
  :meth:`~albench.backbones.base.TextTower.encode_shared_prefix`). Where that cannot run
  (class-specific contexts, a bidirectional tower, a structure the tower does not
  recognise) the ordinary pass runs and :attr:`PromptTextEncoder.full_pass_reason` says why.

Several independent contexts (``n_prompts``, e.g. the positive and negative prompts of
dual-prompt tuning) are encoded in one batched pass of the tower. An initialisation phrase
sets the first ``phrase_prompts`` of them; the others start from independent random draws,
as DeFT's negative context does (Wei et al., NeurIPS 2024): were both started from the same
words, p_yes(x, k) would be 0.5 everywhere at step 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from albench.backbones.base import TextTower, TokenizedPrompts
from albench.errors import InvalidSpecError

#: CoOp's placeholder word: one token per context vector in CLIP's and BERT's vocabularies
PLACEHOLDER = "X"
#: the random initialisation of CoOp: N(0, 0.02^2)
INIT_STD = 0.02


def context_length(tower: TextTower, n_ctx: int, init: str) -> int:
    """The number of context vectors: ``n_ctx``, or the token count of an ``init`` phrase."""
    if init == "random":
        return n_ctx
    return int(tower.tokenize([init]).lengths[0]) - 2


def _random_init(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator) * INIT_STD


class PromptTextEncoder(nn.Module):
    """Context vectors in, L2-normalised class text embeddings out.

    ``text_tower``: a frozen :class:`~albench.backbones.base.TextTower`. ``class_names``: the
    C classes. ``n_ctx``: context length M (16 in CoOp); ignored when ``init`` is a phrase,
    whose token count sets M (CoOp's "a photo of a" initialisation). ``class_specific``: one
    context per class (CoOp's CSC variant) instead of one shared. ``n_prompts``: number of
    independent contexts G encoded together; with a phrase ``init``, ``phrase_prompts`` of
    them start from it and the rest from N(0, 0.02^2). ``truncate``: cut prompts at the longest real
    prompt (exact, see module docstring); False gives the naive full-length computation.
    ``shared_prefix``: encode the start token and a shared context once per context rather
    than once per class, where the tower allows (exact, see module docstring).

    ``forward()`` returns a (G, C, embed_dim) tensor.
    """

    def __init__(
        self,
        text_tower: TextTower,
        class_names: Sequence[str],
        n_ctx: int = 16,
        *,
        class_specific: bool = False,
        init: str = "random",
        generator: torch.Generator | None = None,
        n_prompts: int = 1,
        phrase_prompts: int = 1,
        truncate: bool = True,
        shared_prefix: bool = True,
    ):
        super().__init__()
        if not class_names:
            raise InvalidSpecError("a prompt learner needs at least one class name")
        self.tower = text_tower
        self.class_specific = class_specific
        self.n_prompts = n_prompts
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        phrase = None if init == "random" else init
        n_ctx = context_length(text_tower, n_ctx, init)
        if n_ctx < 1:
            raise InvalidSpecError(f"n_ctx must be at least 1, got {n_ctx}")
        self.n_ctx = n_ctx

        prompts = [" ".join([PLACEHOLDER] * n_ctx) + f" {name}." for name in class_names]
        tokens = text_tower.tokenize(prompts)
        self._check_placeholders(tokens.ids, n_ctx)
        length = int(tokens.lengths.max()) if truncate else tokens.ids.shape[1]
        self.prompts = replace(tokens, ids=tokens.ids[:, :length])
        with torch.no_grad():
            embedded = text_tower.token_embedding(self.prompts.ids).detach()
        self.register_buffer("prefix", embedded[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", embedded[:, 1 + n_ctx :].clone(), persistent=False)

        n_classes, dim = len(class_names), embedded.shape[-1]
        shape = (n_ctx, dim) if not class_specific else (n_classes, n_ctx, dim)
        if phrase is None:
            ctx = _random_init((n_prompts, *shape), generator)
        else:
            from_phrase = min(phrase_prompts, n_prompts)
            words = self._phrase_init(phrase).expand(from_phrase, *shape)
            drawn = _random_init((n_prompts - from_phrase, *shape), generator)
            ctx = torch.cat([words, drawn.to(words.dtype)])
        self.ctx = nn.Parameter(ctx)
        self.full_pass_reason = self._full_pass_reason(shared_prefix)

    def _full_pass_reason(self, shared_prefix: bool) -> str | None:
        """Why :meth:`forward` runs every prompt through the tower whole, or None when it
        encodes the shared prefix once."""
        if not shared_prefix:
            return "shared_prefix=False"
        if self.class_specific:
            return "the contexts are class-specific"
        if not self.tower.causal:
            return "the text tower is not causal"
        if not bool((self.prompts.ids[:, 0] == self.prompts.ids[0, 0]).all()):
            return "the prompts do not share their first token"
        return self.tower.shared_prefix_unsupported()

    def _phrase_init(self, phrase: str) -> torch.Tensor:
        """Word embeddings of ``phrase`` (without start / end tokens), CoOp's ``ctx_init``."""
        tokens = self.tower.tokenize([phrase])
        with torch.no_grad():
            embedded = self.tower.token_embedding(tokens.ids).detach()
        return embedded[0, 1 : 1 + self.n_ctx]

    @staticmethod
    def _check_placeholders(ids: torch.Tensor, n_ctx: int) -> None:
        """The context slots must be exactly ``n_ctx`` placeholder tokens after the start token."""
        slots = ids[:, 1 : 1 + n_ctx]
        if slots.shape[1] != n_ctx or not bool((slots == slots[0, 0]).all()):
            raise InvalidSpecError(
                f"the tokenizer does not map {PLACEHOLDER!r} to one token per context slot"
            )

    @property
    def n_classes(self) -> int:
        return int(self.prefix.shape[0])

    def embeddings(self) -> torch.Tensor:
        """(G * C, L, D) input embeddings of every prompt: prefix, context, suffix."""
        g, c = self.n_prompts, self.n_classes
        ctx = self.ctx if self.class_specific else self.ctx.unsqueeze(1).expand(g, c, -1, -1)
        prefix = self.prefix.unsqueeze(0).expand(g, -1, -1, -1)
        suffix = self.suffix.unsqueeze(0).expand(g, -1, -1, -1)
        return torch.cat([prefix, ctx, suffix], dim=2).flatten(0, 1)

    def forward(self) -> torch.Tensor:
        """(G, C, embed_dim) L2-normalised class text embeddings."""
        if self.full_pass_reason is None:
            return nn.functional.normalize(self._encode_shared_prefix(), dim=-1)
        prompts = self.prompts
        if self.n_prompts > 1:
            prompts = TokenizedPrompts(
                ids=prompts.ids.repeat(self.n_prompts, 1),
                lengths=prompts.lengths.repeat(self.n_prompts),
                eot=prompts.eot.repeat(self.n_prompts),
            )
        features = self.tower.encode_embeddings(self.embeddings(), prompts)
        features = nn.functional.normalize(features, dim=-1)
        return features.view(self.n_prompts, self.n_classes, -1)

    def _encode_shared_prefix(self) -> torch.Tensor:
        """(G, C, embed_dim) features from the G prefixes ``[SOS] X_1..X_M``, each run once."""
        g = self.n_prompts
        prefix = torch.cat([self.prefix[:1].expand(g, -1, -1), self.ctx], dim=1)
        suffix = self.suffix.unsqueeze(0).expand(g, -1, -1, -1)
        return self.tower.encode_shared_prefix(prefix, suffix, self.prompts)
