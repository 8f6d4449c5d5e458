"""Weight-initialisation schemes shared by the model builders.

Every scheme draws from torch's global RNG, so ``torch.manual_seed(s)`` followed by
``build_model(...)`` reproduces the same weights.
"""

from __future__ import annotations

from torch import nn

__all__ = ["INIT_SCHEMES", "apply_init", "check_init_scheme", "init_convnet_he"]

# "default" leaves PyTorch's own layer initialisation untouched.
INIT_SCHEMES = ("default", "glorot_normal", "kaiming_normal")

_WEIGHTED_LAYERS = (nn.Linear, nn.Conv2d)


def check_init_scheme(init: str) -> None:
    """Raise ValueError unless ``init`` names a scheme in INIT_SCHEMES."""
    if init not in INIT_SCHEMES:
        raise ValueError(f"option 'init' must be one of {INIT_SCHEMES}, got {init!r}")


def apply_init(model: nn.Module, init: str) -> None:
    """Re-initialise every Linear and Conv2d layer of ``model`` with ``init``.

    - ``glorot_normal``: N(0, 2/(fan_in + fan_out)) weights, zero biases (Glorot & Bengio 2010;
      the initialisation of the sam-eos MLP and CNN).
    - ``kaiming_normal``: N(0, 2/fan_in) weights, zero biases (He et al. 2015, the ReLU gain,
      whatever the activation: the usual meaning of "He normal").
    Normalisation layers keep their unit scale and zero shift.
    """
    check_init_scheme(init)
    if init == "default":
        return
    for layer in model.modules():
        if not isinstance(layer, _WEIGHTED_LAYERS):
            continue
        if init == "glorot_normal":
            nn.init.xavier_normal_(layer.weight)
        else:
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def init_convnet_he(model: nn.Module) -> None:
    """The initialisation the CIFAR ResNet/WRN/VGG papers use for their convolutions.

    Convolutions get He-normal weights with fan_out (as in He et al. 2016 and Zagoruyko &
    Komodakis 2016), BatchNorm starts as the identity, linear layers keep PyTorch's default.
    """
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
