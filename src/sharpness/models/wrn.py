"""Wide residual networks for CIFAR (Zagoruyko & Komodakis 2016), e.g. WRN-16-8 and WRN-28-10."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .init import init_convnet_he
from .options import check_fraction, check_positive_int, check_spatial_size

__all__ = ["WideBlock", "build_wrn"]


class WideBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3×3, (dropout), BN-ReLU-conv3×3, plus a shortcut.

    The shortcut is the identity when shapes match and a 1×1 convolution otherwise; like the
    reference implementation, it then branches off the pre-activated input.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.projection = None
        if stride != 1 or in_channels != out_channels:
            self.projection = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        shortcut = x if self.projection is None else self.projection(activated)
        return out + shortcut


class WideResNet(nn.Module):
    """Stem conv, three stages of WideBlocks, final BN-ReLU, global average pool, linear head."""

    def __init__(
        self, in_channels: int, num_classes: int, depth: int, widen_factor: int, dropout: float
    ) -> None:
        super().__init__()
        blocks_per_stage = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        width = 16
        for stage, out_width in enumerate(widths):
            for index in range(blocks_per_stage):
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(WideBlock(width, out_width, stride, dropout))
                width = out_width
        self.stages = nn.Sequential(*blocks)
        self.final_bn = nn.BatchNorm2d(width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.final_bn(self.stages(self.stem(x))))
        return self.head(torch.flatten(self.pool(out), 1))


def build_wrn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    depth: int = 16,
    widen_factor: int = 8,
    dropout: float = 0.0,
) -> WideResNet:
    """WRN-``depth``-``widen_factor``; depth must be 6n + 4 (n blocks per stage).

    WRN-16-8 has 11.0 M and WRN-28-10 36.5 M parameters for 10 classes.
    """
    check_positive_int("depth", depth, minimum=10)
    if (depth - 4) % 6 != 0:
        raise ValueError(f"option 'depth' must be 6n + 4 (10, 16, 22, 28, ...), got {depth}")
    check_positive_int("widen_factor", widen_factor)
    dropout = check_fraction("dropout", dropout)
    check_spatial_size("wrn", input_shape, minimum=8)
    model = WideResNet(input_shape[0], num_classes, depth, widen_factor, dropout)
    init_convnet_he(model)
    return model
