"""The character-level causal Transformer language model of sam-eos (Long & Bartlett 2024, Section 5.3).

sam-eos modified the Transformer example distributed with Haiku (``examples/transformer``;
Hennigan et al. 2023): 6 layers, 8 heads, key size 32, model size 128, sequence length 64,
dropout removed. This is that network in PyTorch:

    h₀ = E[tokens] + P[:T]                                 (learned token and position embeddings)
    hₗ' = hₗ₋₁ + Attn(LN(hₗ₋₁))                            (causal multi-head self-attention)
    hₗ  = hₗ' + W₂ GELU(W₁ LN(hₗ') + b₁) + b₂              (MLP of width mlp_ratio · width)
    logits = W_out LN(h_L) + b_out                         (untied output layer)

Attention has ``heads`` heads whose queries, keys and values have ``key_size`` entries each, so
its inner width ``heads · key_size`` (256 by default) need not equal the model width (128):
``Attn(x) = W_o concat_h softmax(q_h k_hᵀ / √key_size + causal mask) v_h + b_o``.

It is written out with einsum and an explicit mask rather than ``nn.MultiheadAttention`` or
``scaled_dot_product_attention``: the spectrum engine takes double-backward and
forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``) Hessian-vector products
through the model, and the fused kernels do not support both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .options import check_choice, check_positive_int

__all__ = ["TRANSFORMER_INITS", "CausalSelfAttention", "TransformerBlock", "TransformerLM", "build_transformer_lm"]

# "haiku" is the initialisation of the Haiku example sam-eos ran; "gpt2" that of GPT-2/nanoGPT.
TRANSFORMER_INITS = ("haiku", "gpt2")

# The standard deviation of a unit normal truncated to [-2, 2]. Haiku's VarianceScaling divides
# by it so that the truncated draws have exactly the intended standard deviation.
_TRUNCATED_STD = 0.87962566103423978


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions ≤ t only.

    One fused linear map gives the queries, keys and values of all heads (three maps of the
    same size and initialisation, stored as one ``(3 · heads · key_size, width)`` weight).
    """

    def __init__(self, width: int, heads: int, key_size: int) -> None:
        super().__init__()
        self.heads = heads
        self.key_size = key_size
        self.qkv = nn.Linear(width, 3 * heads * key_size)
        self.out = nn.Linear(heads * key_size, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        # (B, T, 3, H, K) -> three (B, T, H, K)
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.key_size).unbind(dim=2)
        scores = torch.einsum("bthk,bshk->bhts", q, k) / math.sqrt(self.key_size)  # (B, H, T, T)
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        # -inf gives exact zeros after softmax; every row keeps its diagonal, so none is all -inf.
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        mixed = torch.einsum("bhts,bshk->bthk", weights, v).reshape(batch, length, self.heads * self.key_size)
        return self.out(mixed)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` with a tanh-GELU MLP.

    The tanh approximation of GELU is what Haiku's ``jax.nn.gelu`` computes by default.
    """

    def __init__(self, width: int, heads: int, key_size: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads, key_size)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width),
            nn.GELU(approximate="tanh"),
            nn.Linear(mlp_ratio * width, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerLM(nn.Module):
    """Token ids (B, T ≤ context) int64 → next-token logits (B, T, vocabulary)."""

    def __init__(
        self, context: int, vocabulary: int, layers: int, heads: int, key_size: int, width: int, mlp_ratio: int
    ) -> None:
        super().__init__()
        self.context = context
        self.token_embedding = nn.Embedding(vocabulary, width)
        self.position_embedding = nn.Parameter(torch.zeros(context, width))
        self.blocks = nn.Sequential(*(TransformerBlock(width, heads, key_size, mlp_ratio) for _ in range(layers)))
        self.final_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.shape[1] > self.context:
            raise ValueError(
                f"expected token ids of shape (batch, length <= {self.context}), got {tuple(tokens.shape)}"
            )
        h = self.token_embedding(tokens) + self.position_embedding[: tokens.shape[1]]  # (B, T, D)
        return self.head(self.final_norm(self.blocks(h)))


def build_transformer_lm(
    input_shape: tuple[int],
    num_classes: int,
    *,
    layers: int = 6,
    heads: int = 8,
    key_size: int = 32,
    width: int = 128,
    mlp_ratio: int = 4,
    init: str = "haiku",
) -> TransformerLM:
    """The sam-eos Transformer for windows of ``input_shape = (context,)`` ids over ``num_classes`` tokens.

    Parameters, with D = width, A = heads · key_size, M = mlp_ratio · D, V = num_classes and
    C = context: ``(V + C)·D + layers·(4D + 3(DA + A) + AD + D + DM + M + MD + D) + 2D + DV + V``;
    1,593,600 + 257·V for the defaults at C = 64 (1,610,305 for tiny_shakespeare's 65 characters).

    ``init="haiku"`` (the default, what sam-eos ran): embeddings from N(0, 0.02²) truncated at
    ±2σ (σ = 0.02); every attention and MLP weight from Haiku's ``VarianceScaling(2 / layers)``,
    a normal truncated at ±2σ and rescaled to standard deviation √(2 / (layers · fan_in)); the
    output layer Haiku's ``Linear`` default, a normal with σ = 1/√D truncated at ±2σ; zero biases;
    LayerNorms at unit scale and zero shift. ``init="gpt2"`` (GPT-2 as in nanoGPT): N(0, 0.02²)
    for embeddings and weights, N(0, (0.02/√(2·layers))²) for the two projections into the
    residual stream, zero biases.

    Not taken from the example: no padding mask (windows here are never padded), and position
    embeddings for the full context of which the first T rows are used for shorter inputs.
    """
    if len(input_shape) != 1:
        raise ValueError(
            f"model 'transformer_lm' needs input_shape (context,) of token windows, got {tuple(input_shape)}"
        )
    context = check_positive_int("context", int(input_shape[0]))
    check_positive_int("layers", layers)
    check_positive_int("heads", heads)
    check_positive_int("key_size", key_size)
    check_positive_int("width", width)
    check_positive_int("mlp_ratio", mlp_ratio)
    check_choice("init", init, TRANSFORMER_INITS)
    model = TransformerLM(context, num_classes, layers, heads, key_size, width, mlp_ratio)
    if init == "haiku":
        _init_haiku(model, layers)
    else:
        _init_gpt2(model, layers)
    return model


def _truncated_normal_(tensor: torch.Tensor, std: float) -> None:
    """Normal with scale ``std`` truncated at ±2·std (Haiku's ``TruncatedNormal(stddev=std)``)."""
    nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2 * std, b=2 * std)


def _init_haiku(model: TransformerLM, layers: int) -> None:
    _truncated_normal_(model.token_embedding.weight, 0.02)
    _truncated_normal_(model.position_embedding, 0.02)
    for block in model.blocks:
        for linear in (block.attention.qkv, block.attention.out, block.mlp[0], block.mlp[2]):
            fan_in = linear.weight.shape[1]
            _truncated_normal_(linear.weight, math.sqrt(2 / layers / fan_in) / _TRUNCATED_STD)
            nn.init.zeros_(linear.bias)
    _truncated_normal_(model.head.weight, 1 / math.sqrt(model.head.weight.shape[1]))
    nn.init.zeros_(model.head.bias)


def _init_gpt2(model: TransformerLM, layers: int) -> None:
    nn.init.normal_(model.token_embedding.weight, std=0.02)
    nn.init.normal_(model.position_embedding, std=0.02)
    residual = {id(block.attention.out) for block in model.blocks} | {id(block.mlp[2]) for block in model.blocks}
    for module in model.modules():
        if isinstance(module, nn.Linear):
            std = 0.02 / math.sqrt(2 * layers) if id(module) in residual else 0.02
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)
