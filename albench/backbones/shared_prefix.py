"""open_clip's causal text transformer run once over a prefix that every sequence shares.

A CoOp prompt whose context is shared by all classes reads ``[SOS] X_1 .. X_M <name>. [EOT]``:
its first P = M + 1 tokens, and their positions, are the same for all C classes. The text
transformer is causal, so the hidden state of token i at every layer depends on tokens <= i
only: the P prefix states are the same in every class's sequence, at every layer. Computing
them once (one sequence) and letting each class's S suffix tokens attend to [prefix keys;
their own keys] under the causal mask is therefore the full pass, rearranged, with P + C * S
token rows through the projections and MLPs instead of C * (P + S).

The rearrangement is exact when (a) every sub-layer except attention acts on each token
alone (LayerNorm, MLP, LayerScale) and (b) attention is plain softmax attention under the
causal mask, with no dropout, key/value biases or zero-attention. :func:`unsupported` checks
exactly that structure (open_clip's ``Transformer`` of ``ResidualAttentionBlock``s around
``nn.MultiheadAttention``, exact types, so that a subclass with another ``forward`` is not
taken for one) and names what differs otherwise, so that the caller runs the ordinary pass.
"""

from __future__ import annotations

import torch
from open_clip.transformer import LayerScale, ResidualAttentionBlock, Transformer
from torch import nn
from torch.nn import functional as F


def unsupported(text: nn.Module) -> str | None:
    """Why the shared-prefix pass would not equal ``text``'s own pass, or None when it does."""
    mask = getattr(text, "attn_mask", None)
    if mask is None:
        return "the text transformer is not causal"
    if not torch.equal(mask, torch.full_like(mask, float("-inf")).triu(1)):
        return "the text attention mask is not the plain causal mask"
    transformer = getattr(text, "transformer", None)
    if type(transformer) is not Transformer:
        name = type(transformer).__name__
        return f"the text transformer is a {name}, not open_clip's Transformer"
    for index, block in enumerate(transformer.resblocks):
        reason = _unsupported_block(block)
        if reason is not None:
            return f"text block {index}: {reason}"
    return None


def _unsupported_block(block: nn.Module) -> str | None:
    if type(block) is not ResidualAttentionBlock:
        return f"a {type(block).__name__}, not open_clip's ResidualAttentionBlock"
    attn = block.attn
    if hasattr(block, "ln_1_kv") or type(attn) is not nn.MultiheadAttention:
        return "attention is not nn.MultiheadAttention self-attention"
    if not attn._qkv_same_embed_dim or attn.bias_k is not None or attn.add_zero_attn:
        return "attention has separate key/value widths, key/value biases or zero-attention"
    if attn.dropout:
        return f"attention dropout {attn.dropout}"
    norms = (block.ln_1, block.ln_2)
    scales = (block.ls_1, block.ls_2)
    if not all(isinstance(n, nn.LayerNorm) for n in norms) or not all(
        type(s) in (nn.Identity, LayerScale) for s in scales
    ):
        return "a norm or layer scale that is not LayerNorm / LayerScale"
    return None


def encode(transformer: Transformer, prefix: torch.Tensor, suffix: torch.Tensor) -> torch.Tensor:
    """Output hidden states (G, C, S, D) of the suffixes, from the inputs (G, P, D) of the
    shared prefixes and (G, C, S, D) of the suffixes (positions already added)."""
    for block in transformer.resblocks:
        prefix, suffix = _block(block, prefix, suffix)
    return suffix


def _block(
    block: ResidualAttentionBlock, prefix: torch.Tensor, suffix: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One residual attention block on the prefixes and on the suffixes that follow them."""
    q_p, k_p, v_p = _heads(block.attn, block.ln_1(prefix))
    q_s, k_s, v_s = _heads(block.attn, block.ln_1(suffix))
    own = F.scaled_dot_product_attention(q_p, k_p, v_p, is_causal=True)
    after = _suffix_attention(q_s, k_p, v_p, k_s, v_s)
    return _residual(block, prefix, own), _residual(block, suffix, after)


def _heads(attn: nn.MultiheadAttention, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Queries, keys and values of ``x`` (..., T, D), each (..., H, T, D / H)."""
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    shape = (*x.shape[:-1], attn.num_heads, attn.head_dim)
    return tuple(t.reshape(shape).transpose(-3, -2) for t in qkv)


def _suffix_attention(
    q: torch.Tensor, k_p: torch.Tensor, v_p: torch.Tensor, k_s: torch.Tensor, v_s: torch.Tensor
) -> torch.Tensor:
    """Softmax attention of suffix queries (G, C, H, S, d) over the whole prefix (G, H, P, d)
    and, causally, their own suffix (G, C, H, S, d); one softmax over both key sets, in
    float32 also for half-precision towers."""
    length = q.shape[-2]
    future = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
    shared = torch.einsum("gchsd,ghpd->gchsp", q, k_p)
    own = (q @ k_s.transpose(-1, -2)).masked_fill(future, float("-inf"))
    scores = torch.cat([shared, own], dim=-1) * q.shape[-1] ** -0.5
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    w_p, w_s = weights.split([k_p.shape[-2], length], dim=-1)
    return torch.einsum("gchsp,ghpd->gchsd", w_p, v_p) + w_s @ v_s


def _residual(block: ResidualAttentionBlock, x: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """The block's two residual branches after attention (``ResidualAttentionBlock.forward``)."""
    merged = heads.transpose(-3, -2).flatten(-2)
    x = x + block.ls_1(block.attn.out_proj(merged))
    return x + block.ls_2(block.mlp(block.ln_2(x)))
