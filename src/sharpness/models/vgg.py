"""VGG-16 with BatchNorm, in the form commonly trained on CIFAR (a single 512→classes layer)."""

from __future__ import annotations

from torch import nn

from .init import init_convnet_he
from .options import check_spatial_size

__all__ = ["VGG16_LAYOUT", "build_vgg16_bn"]

# Output channels of the 13 conv layers; "pool" marks a 2×2 max-pool.
# fmt: off
VGG16_LAYOUT = (
    64, 64, "pool",
    128, 128, "pool",
    256, 256, 256, "pool",
    512, 512, 512, "pool",
    512, 512, 512, "pool",
)
# fmt: on


def build_vgg16_bn(input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """VGG-16-BN for 32×32 inputs: 13 conv-BN-ReLU layers, 5 pools, a 512→classes linear layer.

    About 15 M parameters. The pools round up (``ceil_mode``), which changes nothing for
    32×32 inputs but lets inputs down to 8×8 pass all five pools; the adaptive average pool
    then reduces whatever is left to 1×1 (on 32×32 it is the identity).
    """
    check_spatial_size("vgg16_bn", input_shape, minimum=8)
    layers: list[nn.Module] = []
    in_channels = input_shape[0]
    for entry in VGG16_LAYOUT:
        if entry == "pool":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
            continue
        layers += [
            nn.Conv2d(in_channels, entry, kernel_size=3, padding=1),
            nn.BatchNorm2d(entry),
            nn.ReLU(),
        ]
        in_channels = entry
    model = nn.Sequential(
        nn.Sequential(*layers),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(in_channels, num_classes),
    )
    init_convnet_he(model)
    return model
