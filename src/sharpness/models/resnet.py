"""CIFAR-style residual networks: ResNet-20 (He et al. 2016), and ResNet-18 and ResNet-50 (the
3×3-stem variants the SAM papers train on CIFAR).

Both end in adaptive average pooling, so they accept any input of at least 8×8 pixels
(32×32 is the size they were designed for).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .init import init_convnet_he
from .options import check_spatial_size

__all__ = ["BasicBlock", "Bottleneck", "build_resnet18", "build_resnet20", "build_resnet50"]


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class PaddingShortcut(nn.Module):
    """He et al.'s option A shortcut: subsample by ``stride`` and zero-pad the new channels.

    It has no parameters, which is what keeps ResNet-20 at the paper's 0.27 M.
    """

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # Pad the channel dimension symmetrically (F.pad lists dims from the last one).
        half = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B shortcut: 1×1 convolution and BatchNorm (used by ResNet-18)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with a residual connection, ReLU after the sum."""

    expansion = 1  # output channels per "width" of the stage

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "padding":
            self.shortcut = PaddingShortcut(out_channels - in_channels, stride)
        else:
            self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (with the stride), 1×1 expand to 4× the width, each with BatchNorm; a
    projection shortcut where the shape changes; ReLU after the sum (He et al. 2016, Fig. 5)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, shortcut: str) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """3×3 stem conv-BN-ReLU, stages of BasicBlocks, global average pool, linear head."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        stage_widths: tuple[int, ...],
        blocks_per_stage: tuple[int, ...],
        shortcut: str,
        block: type[nn.Module] = BasicBlock,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv3x3(in_channels, stage_widths[0]), nn.BatchNorm2d(stage_widths[0]), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        width = stage_widths[0]
        for stage, (out_width, num_blocks) in enumerate(zip(stage_widths, blocks_per_stage)):
            for index in range(num_blocks):
                # Every stage but the first halves the resolution in its first block.
                stride = 2 if stage > 0 and index == 0 else 1
                blocks.append(block(width, out_width, stride, shortcut))
                width = out_width * block.expansion
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(self.stages(self.stem(x)))
        return self.head(torch.flatten(out, 1))


def build_resnet20(input_shape: tuple[int, int, int], num_classes: int) -> CifarResNet:
    """ResNet-20 for CIFAR (He et al. 2016, Section 4.2): 3 stages × 3 blocks, widths 16/32/64.

    Option A (parameter-free) shortcuts, as in the paper: 0.27 M parameters for 10 classes.
    """
    check_spatial_size("resnet20", input_shape, minimum=8)
    model = CifarResNet(input_shape[0], num_classes, (16, 32, 64), (3, 3, 3), shortcut="padding")
    init_convnet_he(model)
    return model


def build_resnet18(input_shape: tuple[int, int, int], num_classes: int) -> CifarResNet:
    """ResNet-18 adapted to CIFAR: 3×3 stride-1 stem without max-pool, widths 64–512.

    Projection shortcuts where the shape changes; 11.2 M parameters for 10 classes.
    """
    check_spatial_size("resnet18", input_shape, minimum=8)
    model = CifarResNet(input_shape[0], num_classes, (64, 128, 256, 512), (2, 2, 2, 2), shortcut="projection")
    init_convnet_he(model)
    return model


def build_resnet50(input_shape: tuple[int, int, int], num_classes: int) -> CifarResNet:
    """ResNet-50 adapted to CIFAR as ResNet-18 is: 3×3 stride-1 stem, no max-pool, bottleneck
    stages of 3, 4, 6, 3 blocks at widths 64–512 (outputs 256–2048); 23.5 M parameters for 10
    classes."""
    check_spatial_size("resnet50", input_shape, minimum=8)
    model = CifarResNet(input_shape[0], num_classes, (64, 128, 256, 512), (3, 4, 6, 3), shortcut="projection", block=Bottleneck)
    init_convnet_he(model)
    return model
