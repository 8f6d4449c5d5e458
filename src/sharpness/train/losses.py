"""Losses by name. Each returns the mean over its batch, as the spectrum engine expects."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_NAMES = ("cross_entropy", "mse", "tanh_mse")


def cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits, mean over targets: (N, C) against (N,) for classification,
    (N, T, V) against (N, T) for a language model (every next character counts once)."""
    if output.dim() == 3:
        return F.cross_entropy(output.flatten(0, 1), target.flatten())
    return F.cross_entropy(output, target)


def make_loss(name: str, num_classes: int):
    """``cross_entropy`` on logits; ``mse``: squared error against one-hot targets, averaged
    over the batch and the classes (sam-eos's squared loss up to a constant factor);
    ``tanh_mse``: far-from-home's MSE for classification, the outputs through tanh against labels
    rescaled from {0, 1} to {−1, 1}, averaged over the batch and the classes."""
    if name == "cross_entropy":
        return cross_entropy
    if name == "mse":

        def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            one_hot = F.one_hot(target, num_classes).to(output.dtype)
            return F.mse_loss(output, one_hot)

        return mse
    if name == "tanh_mse":

        def tanh_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            signs = 2 * F.one_hot(target, num_classes).to(output.dtype) - 1
            return F.mse_loss(torch.tanh(output), signs)

        return tanh_mse
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSS_NAMES)}")
