"""The "6-layer SimpleCNN" of eigen-sam (Luo et al., Section 5.1 and Figure 1, on CIFAR-10).

eigen-sam names the model only ("a 6-layer SimpleCNN model, as used in Jastrzebski et al.
(2021); Deng et al. (2024)") and gives no layers. The layers here are those of the SimpleCNN
in the code of Jastrzębski et al. (github.com/kudkudak/dnn_sharpest_directions,
``src/models/simple_cnn.py`` with its root config: ``n_filters=32``, ``kernel_size=3``,
``n_dense=128``, no BatchNorm, no dropout, ReLU, Glorot-uniform weights), which has exactly six
weight layers:

    conv 3×3, c   (padding 1) → ReLU → conv 3×3, c   (no padding) → ReLU → max-pool 2×2
    conv 3×3, 2c  (padding 1) → ReLU → conv 3×3, 2c  (no padding) → ReLU → max-pool 2×2
    flatten → linear → ReLU (hidden units) → linear (classes)

On 32×32 inputs the feature maps are 32 → 30 → 15 → 15 → 13 → 6, so the flattened size is
2c·6·6. Our choices: the options below (the reference's defaults), and ``padding="same"``,
which pads every conv so that inputs as small as 4×4 (e.g. 8×8 digits) fit; the reference
layout needs at least 10×10.
"""

from __future__ import annotations

from torch import nn

from .init import INIT_SCHEMES, apply_init
from .options import check_choice, check_positive_int, check_spatial_size

__all__ = ["SIMPLE_CNN_INITS", "SIMPLE_CNN_PADDINGS", "build_simple_cnn"]

# "glorot_uniform" (the reference's Keras default) is added to the shared schemes here.
SIMPLE_CNN_INITS = ("glorot_uniform", *INIT_SCHEMES)
# "reference": padded, unpadded per stage as in Jastrzębski et al.; "same": every conv padded.
SIMPLE_CNN_PADDINGS = ("reference", "same")


def build_simple_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    channels: int = 32,
    kernel_size: int = 3,
    hidden: int = 128,
    padding: str = "reference",
    init: str = "glorot_uniform",
) -> nn.Sequential:
    """SimpleCNN with ``channels`` filters in the first stage, ``2 · channels`` in the second.

    ``kernel_size`` must be odd (the padded convs keep the size). With k = kernel_size, each
    stage maps a side of s pixels to ``(s - (k - 1)) // 2`` (reference) or ``s // 2`` (same), and
    the result must be at least one pixel. Parameters for C input channels, c = channels, h =
    hidden, K classes and final side f: ``(C·c + c·c + c·2c + 2c·2c)·k² + 6c + 2c·f²·h + h + h·K + K``;
    361,898 for the defaults on 3×32×32 with 10 classes (f = 6).

    ``init="glorot_uniform"``: U(±√(6 / (fan_in + fan_out))) weights and zero biases, the
    reference's Keras defaults; the other schemes are those of :mod:`.init`.
    """
    check_positive_int("channels", channels)
    check_positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"option 'kernel_size' must be odd, got {kernel_size}")
    check_positive_int("hidden", hidden)
    check_choice("padding", padding, SIMPLE_CNN_PADDINGS)
    check_choice("init", init, SIMPLE_CNN_INITS)
    check_spatial_size("simple_cnn", input_shape, minimum=_minimum_side(kernel_size, padding))

    pad = kernel_size // 2
    second_pad = pad if padding == "same" else 0
    in_channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in (channels, 2 * channels):
        layers += [
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size, padding=second_pad),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        ]
        shrink = 2 * (pad - second_pad)  # what the unpadded conv takes off each side
        in_channels, height, width = out_channels, (height - shrink) // 2, (width - shrink) // 2
    model = nn.Sequential(
        nn.Sequential(*layers),
        nn.Flatten(),
        nn.Linear(in_channels * height * width, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
    if init == "glorot_uniform":
        for layer in model.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
    else:
        apply_init(model, init)
    return model


def _minimum_side(kernel_size: int, padding: str) -> int:
    """Smallest input side that leaves at least one pixel after both stages."""
    shrink = kernel_size - 1 if padding == "reference" else 0
    side = 1
    for _ in range(2):  # invert s -> (s - shrink) // 2 for the smallest s giving `side`
        side = 2 * side + shrink
    return side
