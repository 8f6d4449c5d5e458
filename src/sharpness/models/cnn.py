"""The small convolutional network of sam-eos (Long & Bartlett 2024, Section 5.2)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .init import apply_init, check_init_scheme
from .options import check_positive_int, check_spatial_size

__all__ = ["ConvBlock", "build_cnn"]


class ConvBlock(nn.Sequential):
    """3×3 conv (padding 1) → ReLU → layer normalisation → 2×2 max-pool with stride 2.

    The normalisation is a LayerNorm over the whole (C, H, W) activation of the conv (before the
    pool), computed per example, with a learned scale and shift per channel. It is written as
    ``GroupNorm`` with a single group, which is exactly that, and unlike ``nn.LayerNorm((C, H, W))``
    does not tie the parameter count to the input size.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.GroupNorm(num_groups=1, num_channels=out_channels),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )


def build_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    channels: Sequence[int] = (16, 32),
    init: str = "default",
) -> nn.Sequential:
    """Conv blocks with the given channel counts, then flatten and a linear head.

    The default ``channels=(16, 32)`` is the sam-eos CNN; the paper initialises it with
    ``init="glorot_normal"``. Each block halves the spatial size (floor), so inputs must be at
    least 2**len(channels) pixels on a side.
    """
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
        raise ValueError(f"option 'channels' must be a non-empty list of integers, got {channels!r}")
    for count in channels:
        check_positive_int("channels", count)
    check_init_scheme(init)
    check_spatial_size("cnn", input_shape, minimum=2 ** len(channels))

    in_channels, height, width = input_shape
    blocks: list[nn.Module] = []
    for out_channels in channels:
        blocks.append(ConvBlock(in_channels, out_channels))
        in_channels, height, width = out_channels, height // 2, width // 2
    num_features = in_channels * height * width
    model = nn.Sequential(nn.Sequential(*blocks), nn.Flatten(), nn.Linear(num_features, num_classes))
    apply_init(model, init)
    return model
