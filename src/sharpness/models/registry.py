"""Build a model from a config spec such as ``{"name": "mlp", "width": 256, "depth": 3}``.

Construction draws initial weights from torch's global RNG and nothing else, so
``torch.manual_seed(s); build_model(spec, shape, k)`` gives the same weights every time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from .cnn import build_cnn
from .mlp import build_mlp
from .options import check_positive_int
from .resnet import build_resnet18, build_resnet20, build_resnet50
from .simple_cnn import build_simple_cnn
from .transformer import build_transformer_lm
from .vgg import build_vgg16_bn
from .vit import build_vit, build_vit_b16
from .wrn import build_wrn

__all__ = ["MODEL_NAMES", "build_model", "count_parameters", "model_options"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "resnet20": build_resnet20,
    "resnet18": build_resnet18,
    "resnet50": build_resnet50,
    "vgg16_bn": build_vgg16_bn,
    "wrn": build_wrn,
    "simple_cnn": build_simple_cnn,
    "transformer_lm": build_transformer_lm,
    "vit": build_vit,
    "vit_b16": build_vit_b16,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def model_options(name: str) -> dict[str, Any]:
    """The options model ``name`` accepts, with their defaults.

    They are read off the builder's keyword-only parameters, so the list cannot drift from
    what the builder actually takes.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model name {name!r}; known models: {', '.join(MODEL_NAMES)}")
    parameters = inspect.signature(_BUILDERS[name]).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build_model(spec: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Construct the model ``spec["name"]`` with the remaining entries of ``spec`` as options.

    ``input_shape`` is the shape of one example: (channels, height, width) for images, and
    (context,) for token windows (``transformer_lm``, whose ``num_classes`` is the vocabulary).
    Raises ValueError naming the offending entry for an unknown model, an unknown option or an
    invalid option value.
    """
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"model spec must be a mapping with a 'name' entry, got {spec!r}")
    options = dict(spec)
    name = options.pop("name")
    allowed = model_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for model {name!r}; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )
    check_positive_int("num_classes", num_classes)
    return _BUILDERS[name](tuple(int(d) for d in input_shape), num_classes, **options)


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model`` (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())
