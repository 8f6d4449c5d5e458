"""Untargeted L∞ PGD adversarial examples (Madry et al. 2018) for adversarial training (AT).

late-sam (Section 5, Appendix B.1 "Additional setup for AT") switches SGD→AT and reports
robust and natural error; it uses untargeted PGD with ‖x_adv − x‖∞ ≤ ε, ε = 4/255 and step
size 2/255 "following the standard configurations of Madry et al. (2018)". The number of steps
is not stated: 10 by default here, with Madry et al.'s uniform random start.

With x ∈ [0, 1] the image in pixel units (uint8 / 255) and t(·) the preprocessing that turns it
into the model's input, one PGD step is

    x_{k+1} = Π_{[0,1]} Π_{B∞(x, ε)} ( x_k + α · sign ∇_{x_k} L(f(t(x_k)), y) ),
    x_0     = Π_{[0,1]} ( x + u ),  u ~ U[−ε, ε]^d   (x_0 = x without random start),

where Π_{B∞(x, ε)} clips each coordinate to [x − ε, x + ε]. The attack runs in pixel space and
differentiates through t, so the budget is exact whatever the preprocessing: for per-channel
standardisation a pixel step δ is a step δ / std in input space.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..data import DatasetTensors
from ..optim import frozen_bn_statistics

MODEL_MODES = ("eval", "train")


@dataclass(frozen=True)
class PGDSettings:
    """ε and step size α in pixel units of x/255 ∈ [0, 1] (late-sam B.1: 4/255 and 2/255)."""

    epsilon: float = 4 / 255
    step_size: float = 2 / 255
    steps: int = 10
    random_start: bool = True

    def __post_init__(self) -> None:
        if self.epsilon < 0 or self.step_size < 0 or self.steps < 0:
            raise ValueError(f"epsilon, step_size and steps must be non-negative, got {self}")


def input_transform(data: DatasetTensors) -> Callable[[torch.Tensor], torch.Tensor]:
    """t(x01): the model input of pixel-space images x01 = uint8 / 255, with the arithmetic of
    :meth:`DatasetTensors.normalize`, so ``t(x.to(dtype) / 255) == data.normalize(x, dtype)``."""
    if data.pixel_mean is not None:
        pixel_mean = data.pixel_mean

        def center(x01: torch.Tensor) -> torch.Tensor:
            return x01 - pixel_mean.to(dtype=x01.dtype, device=x01.device)

        return center
    mean, std = data.mean, data.std

    def standardize(x01: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        m = torch.tensor(mean, dtype=x01.dtype, device=x01.device).view(shape)
        s = torch.tensor(std, dtype=x01.dtype, device=x01.device).view(shape)
        return (x01 - m) / s

    return standardize


@contextlib.contextmanager
def _attack_mode(model: nn.Module, model_mode: str):
    """Runs the model in ``model_mode`` and restores its own mode afterwards. In "train" mode
    BatchNorm normalises with batch statistics but its running statistics are frozen: attack
    passes are not training passes and must not move the statistics used at evaluation."""
    if model_mode not in MODEL_MODES:
        raise ValueError(f"model_mode must be one of {MODEL_MODES}, got {model_mode!r}")
    was_training = model.training
    model.train(model_mode == "train")
    try:
        with frozen_bn_statistics(model):
            yield
    finally:
        model.train(was_training)


def _random_start(x01: torch.Tensor, epsilon: float, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        raise ValueError("a random start needs a torch.Generator, so that the attack is reproducible")
    # Drawn on the CPU generator and then moved, so the start does not depend on the device.
    u = torch.rand(x01.shape, generator=generator, dtype=x01.dtype)
    return (x01 + (2 * u - 1).to(x01.device) * epsilon).clamp(0, 1)


def pgd_attack(
    model: nn.Module,
    loss_fn,
    x01: torch.Tensor,
    y: torch.Tensor,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    settings: PGDSettings = PGDSettings(),
    generator: torch.Generator | None = None,
    model_mode: str = "eval",
) -> torch.Tensor:
    """Untargeted L∞ PGD (module docstring): adversarial images in pixel space, detached.

    ``x01`` are images in [0, 1] (uint8 / 255, any float dtype and device); ``to_input`` maps
    them to model inputs (:func:`input_transform`); ``generator`` (CPU) draws the random start.
    ``model_mode="eval"`` attacks the function that is evaluated (BatchNorm running statistics,
    no dropout); ``"train"`` attacks the function being trained, as common AT code does (batch
    statistics, dropout), with the running statistics left unchanged either way. Only ∂L/∂x is
    computed: parameter ``.grad`` and the model's train/eval mode are as they were.
    """
    eps, alpha = settings.epsilon, settings.step_size
    x01 = x01.detach()
    lower, upper = x01 - eps, x01 + eps
    x = _random_start(x01, eps, generator) if settings.random_start else x01.clone()
    with _attack_mode(model, model_mode), torch.enable_grad():
        for _ in range(settings.steps):
            x.requires_grad_(True)
            loss = loss_fn(model(to_input(x)), y)
            # autograd.grad, not backward: nothing is accumulated into the parameters' .grad.
            (grad,) = torch.autograd.grad(loss, x)
            x = (x.detach() + alpha * grad.sign()).clamp(lower, upper).clamp(0, 1)
    return x.detach()


def _param_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def robust_error(
    model: nn.Module,
    loss_fn,
    x_uint8: torch.Tensor,
    y: torch.Tensor,
    to_input: Callable[[torch.Tensor], torch.Tensor],
    settings: PGDSettings = PGDSettings(),
    batch_size: int = 1024,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Mean loss and error fraction on PGD examples, attack and evaluation in eval mode: late-sam's
    robust error Err_{D_perturb}(θ), beside :func:`~sharpness.train.loop.evaluate`'s natural
    error. The images ``x_uint8`` are taken in the dtype of the model's parameters."""
    dtype = _param_dtype(model)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x_uint8.device)
    wrong = torch.zeros((), dtype=torch.int64, device=x_uint8.device)
    for i in range(0, len(x_uint8), batch_size):
        x01 = x_uint8[i : i + batch_size].to(dtype) / 255
        t = y[i : i + batch_size]
        x_adv = pgd_attack(model, loss_fn, x01, t, to_input, settings, generator, model_mode="eval")
        with torch.no_grad():
            out = model(to_input(x_adv))
            loss_sum += loss_fn(out, t).double() * t.numel()
            wrong += (out.argmax(-1) != t).sum()
    model.train(was_training)
    return float(loss_sum) / y.numel(), int(wrong) / y.numel()
