"""Fully connected network (the sam-eos MNIST model and the default-scale MLP)."""

from __future__ import annotations

import math

from torch import nn

from .init import apply_init, check_init_scheme
from .options import check_bool, check_choice, check_positive_int, check_spatial_size

__all__ = ["ACTIVATIONS", "build_mlp"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "softplus": nn.Softplus}


def build_mlp(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: int = 128,
    depth: int = 2,
    activation: str = "relu",
    init: str = "default",
    bias: bool = True,
) -> nn.Sequential:
    """Flatten, then ``depth`` hidden layers of ``width`` units, then a linear head.

    ``depth=0`` gives a linear model. The sam-eos MNIST runs use depth 4, width 1000 and
    ``init="glorot_normal"``.
    """
    check_spatial_size("mlp", input_shape, minimum=1)
    check_positive_int("width", width)
    check_positive_int("depth", depth, minimum=0)
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_init_scheme(init)
    check_bool("bias", bias)

    layers: list[nn.Module] = [nn.Flatten()]
    in_features = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(in_features, width, bias=bias), ACTIVATIONS[activation]()]
        in_features = width
    layers.append(nn.Linear(in_features, num_classes, bias=bias))
    model = nn.Sequential(*layers)
    apply_init(model, init)
    return model
