"""Vision Transformers: a small ViT for CIFAR-sized images (late-sam) and torchvision's ViT-B/16 (eigen-sam).

``build_vit`` is the ViT of Dosovitskiy et al. (2021) in the DeiT form (Touvron et al. 2021)
for small images. With p = patch_size and D = width:

    h₀ = [c; Conv_p(x)] + P                     (class token c, patch embedding, learned positions)
    hₗ' = hₗ₋₁ + Attn(LN(hₗ₋₁))                  (multi-head self-attention, every token sees all)
    hₗ  = hₗ' + W₂ GELU(W₁ LN(hₗ') + b₁) + b₂    (MLP of width mlp_ratio · D)
    logits = W LN(h_L)[class token] + b          (or the mean of the patch tokens, pool="mean")

Named presets (Dosovitskiy et al. 2021; Touvron et al. 2021, DeiT):

    ViT-T  {"name": "vit", "width": 192, "depth": 12, "heads": 3}   the defaults; 5,380,132 parameters
    ViT-S  {"name": "vit", "width": 384, "depth": 12, "heads": 6}   21,376,996 parameters

(on CIFAR-100 with 4×4 patches; ``VIT_PRESETS`` holds these options).

late-sam (Appendix B, Figure 11: our experiment LS-F11) trains ViT-T and ViT-S on CIFAR-100
"following the settings in Mueller et al. (2023)", with AdamW and then SAM; it states no patch
size, so patch_size=4 on 32×32 inputs (an 8×8 grid of 64 patches) is our choice. late-sam reports
only accuracies for its ViTs because "computing the gradient twice consecutively for ViTs is not
feasible" in PyTorch. Here attention is written out with einsum and an explicit softmax, as in
:mod:`.transformer`, rather than ``nn.MultiheadAttention`` or ``scaled_dot_product_attention``:
the spectrum engine takes double-backward and forward-over-reverse (``torch.func.jvp`` of
``torch.func.grad``) Hessian-vector products through the model, which the fused kernels support
neither of. 8×8 digits fit with patch_size=2 (a 4×4 grid).

``build_vit_b16`` is torchvision's ViT-B/16 for eigen-sam's fine-tuning experiment (ES-T2).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .options import check_choice, check_fraction, check_positive_int

if TYPE_CHECKING:
    from torchvision.models import VisionTransformer

__all__ = ["VIT_POOLS", "VIT_PRESETS", "SelfAttention", "ViT", "ViTBlock", "build_vit", "build_vit_b16"]

VIT_POOLS = ("cls", "mean")
VIT_PRESETS: dict[str, dict[str, int]] = {
    "vit_t": {"width": 192, "depth": 12, "heads": 3},
    "vit_s": {"width": 384, "depth": 12, "heads": 6},
}

# timm and torchvision build their ViTs with this LayerNorm epsilon, not PyTorch's 1e-5.
_LN_EPS = 1e-6


def _dropout(p: float) -> nn.Module:
    return nn.Dropout(p) if p > 0 else nn.Identity()


class SelfAttention(nn.Module):
    """Multi-head self-attention without a mask: every token attends to every token.

    ``Attn(x) = W_o concat_h softmax(q_h k_hᵀ / √(D/heads)) v_h + b_o``, with the queries, keys
    and values of all heads from one fused ``(3D, D)`` linear map (with bias, as in timm).
    """

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_size = width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.dropout = _dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        # (B, T, 3, H, K) -> three (B, T, H, K)
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.head_size).unbind(dim=2)
        scores = torch.einsum("bthk,bshk->bhts", q, k) / math.sqrt(self.head_size)  # (B, H, T, T)
        mixed = torch.einsum("bhts,bshk->bthk", scores.softmax(dim=-1), v).reshape(batch, length, width)
        return self.dropout(self.out(mixed))


class ViTBlock(nn.Module):
    """Pre-LayerNorm block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` with an exact-GELU MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=_LN_EPS)
        self.attention = SelfAttention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width, eps=_LN_EPS)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width),
            nn.GELU(),
            _dropout(dropout),
            nn.Linear(mlp_ratio * width, width),
            _dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Images (B, C, H, W) of the ``input_shape`` it was built for → logits (B, num_classes)."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        patch_size: int,
        width: int,
        depth: int,
        heads: int,
        mlp_ratio: int,
        dropout: float,
        pool: str,
    ) -> None:
        super().__init__()
        channels, height, image_width = input_shape
        self.input_shape = tuple(input_shape)
        self.pool = pool
        self.patch_embedding = nn.Conv2d(channels, width, kernel_size=patch_size, stride=patch_size)
        # pool="mean" follows Beyer et al. (2022, "Better plain ViT baselines"): no class token.
        self.class_token = nn.Parameter(torch.zeros(1, 1, width)) if pool == "cls" else None
        tokens = (height // patch_size) * (image_width // patch_size) + (pool == "cls")
        self.position_embedding = nn.Parameter(torch.zeros(1, tokens, width))
        self.embedding_dropout = _dropout(dropout)
        self.blocks = nn.Sequential(*(ViTBlock(width, heads, mlp_ratio, dropout) for _ in range(depth)))
        self.final_norm = nn.LayerNorm(width, eps=_LN_EPS)
        self.head = nn.Linear(width, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[1:]) != self.input_shape:
            raise ValueError(f"expected images of shape (batch, {self.input_shape}), got {tuple(images.shape)}")
        h = self.patch_embedding(images).flatten(2).transpose(1, 2)  # (B, N, D), patches row by row
        if self.class_token is not None:
            h = torch.cat([self.class_token.expand(len(h), -1, -1), h], dim=1)
        h = self.final_norm(self.blocks(self.embedding_dropout(h + self.position_embedding)))
        return self.head(h[:, 0] if self.class_token is not None else h.mean(dim=1))


def build_vit(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    patch_size: int = 4,
    width: int = 192,
    depth: int = 12,
    heads: int = 3,
    mlp_ratio: int = 4,
    dropout: float = 0.0,
    pool: str = "cls",
) -> ViT:
    """A ViT on ``input_shape = (C, H, W)`` images; the defaults are ViT-T with 4×4 patches.

    H and W must be multiples of ``patch_size`` and ``width`` a multiple of ``heads``. Parameters,
    with D = width, M = mlp_ratio · D, N = (H/p)·(W/p) patches, K = num_classes and
    t = 1 for pool="cls" (class token and its position), 0 for "mean":
    ``(C·p² + 1)·D + t·D + (N + t)·D + depth·(4D + 3D² + 3D + D² + D + 2DM + M + D) + 2D + DK + K``;
    5,380,132 for ViT-T and 21,376,996 for ViT-S on CIFAR-100 (3×32×32, p = 4, K = 100).

    ``dropout`` (default 0, as in DeiT) applies where torchvision's ViT applies it: after the
    position embedding, after attention, after the GELU and after the MLP.

    Initialisation (DeiT/timm): ``nn.init.trunc_normal_(w, std=0.02)`` for every linear weight,
    the patch embedding, the class token and the position embeddings; zero biases; LayerNorms at
    unit scale and zero shift. Like timm's call, the truncation bounds are the default ±2 in
    absolute terms (±100σ), so the draws are in effect N(0, 0.02²). timm leaves the patch
    convolution at PyTorch's default; we initialise it as the linear map of patches it is.
    """
    if len(input_shape) != 3:
        raise ValueError(f"model 'vit' needs input_shape (channels, height, width), got {tuple(input_shape)}")
    check_positive_int("patch_size", patch_size)
    if any(side % patch_size for side in input_shape[1:]):
        raise ValueError(
            f"option 'patch_size' ({patch_size}) must divide the image height and width, got {tuple(input_shape)}"
        )
    for name, value in (("width", width), ("depth", depth), ("heads", heads), ("mlp_ratio", mlp_ratio)):
        check_positive_int(name, value)
    if width % heads:
        raise ValueError(f"option 'heads' ({heads}) must divide option 'width' ({width})")
    dropout = check_fraction("dropout", dropout)
    check_choice("pool", pool, VIT_POOLS)
    model = ViT(input_shape, num_classes, patch_size, width, depth, heads, mlp_ratio, dropout, pool)
    _init_deit(model)
    return model


def _init_deit(model: ViT) -> None:
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
    if model.class_token is not None:
        nn.init.trunc_normal_(model.class_token, std=0.02)
    nn.init.trunc_normal_(model.position_embedding, std=0.02)


def _resize_to_image_size(model: VisionTransformer, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Forward pre-hook: bilinear resize of the images to the model's ``image_size`` when they differ.

    A module-level function, so that models carrying the hook still pickle and deep-copy.
    """
    images, *rest = args
    size = (model.image_size, model.image_size)
    if images.shape[-2:] != size:
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
    return (images, *rest)


def build_vit_b16(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    weights: str | None = None,
    image_size: int = 224,
) -> VisionTransformer:
    """ViT-B/16 (torchvision's ``vit_b_16``) with a new ``num_classes`` head, for fine-tuning (ES-T2).

    eigen-sam fine-tunes the ImageNet checkpoint of torchvision on CIFAR-10/100. Inputs of any
    other size (CIFAR's 32×32) are resized bilinearly to ``image_size`` by a forward pre-hook,
    so the model is torchvision's own ``VisionTransformer`` and its state_dict has torchvision's keys.
    ``image_size`` must be a multiple of 16; 85,806,346 parameters at 224 with 10 classes.

    ``weights``: path of a torchvision-format state_dict (the file ``ViT_B_16_Weights`` downloads,
    e.g. ``vit_b_16-c867db91.pth``); nothing is ever downloaded. Every tensor but the ``heads.*``
    ones is loaded; position embeddings of another resolution are interpolated (bicubic, as in
    torchvision's ``interpolate_embeddings``). The head is torchvision's fresh one, initialised
    to zero as Dosovitskiy et al. (2021, Section 3.2) do for fine-tuning. Without ``weights``
    every layer has torchvision's initialisation, drawn from torch's global RNG.

    Not for Hessian spectra: torchvision's attention is ``nn.MultiheadAttention``, whose fused
    scaled-dot-product kernels implement neither double backward nor forward-mode AD. Hessian-vector
    products through this model run only under
    ``torch.nn.attention.sdpa_kernel(SDPBackend.MATH)`` (checked with torch 2.14 on CPU).
    """
    if len(input_shape) != 3 or input_shape[0] != 3:
        raise ValueError(f"model 'vit_b16' needs RGB input_shape (3, height, width), got {tuple(input_shape)}")
    check_positive_int("image_size", image_size, minimum=16)
    if image_size % 16:
        raise ValueError(f"option 'image_size' must be a multiple of the patch size 16, got {image_size}")
    path = _weights_file(weights)  # checked before the slow construction
    # Imported here: torchvision takes seconds to import, and most runs never build this model.
    from torchvision.models import vit_b_16

    model = vit_b_16(weights=None, image_size=image_size, num_classes=num_classes)
    model.register_forward_pre_hook(_resize_to_image_size)
    if path is not None:
        _load_backbone(model, path)
    return model


def _weights_file(weights: object) -> Path | None:
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"option 'weights' must be a file path or null, got {weights!r}")
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"option 'weights': no state_dict file at {str(path)!r} (nothing is downloaded)")
    return path


def _load_backbone(model: VisionTransformer, path: Path) -> None:
    from torchvision.models.vision_transformer import interpolate_embeddings

    state = torch.load(path, map_location="cpu", weights_only=True)
    backbone = {key: value for key, value in state.items() if not key.startswith("heads.")}
    if "encoder.pos_embedding" in backbone:  # absent, load_state_dict below reports it
        backbone = interpolate_embeddings(model.image_size, model.patch_size, backbone)
    missing, unexpected = model.load_state_dict(backbone, strict=False)
    wrong_missing = [key for key in missing if not key.startswith("heads.")]
    if wrong_missing or unexpected:
        raise ValueError(
            f"option 'weights': {str(path)!r} is not a torchvision ViT-B/16 state_dict "
            f"(missing {wrong_missing[:5]}, unexpected {unexpected[:5]})"
        )
