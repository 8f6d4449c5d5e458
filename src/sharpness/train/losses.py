"""Losses by name. Each returns the mean over its batch, as the spectrum engine expects."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_NAMES = ("cross_entropy", "mse")


def make_loss(name: str, num_classes: int):
    """``cross_entropy`` on logits, or ``mse``: squared error against one-hot targets, averaged
    over the batch and the classes (far-from-home's convention)."""
    if name == "cross_entropy":
        return F.cross_entropy
    if name == "mse":

        def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            one_hot = F.one_hot(target, num_classes).to(output.dtype)
            return F.mse_loss(output, one_hot)

        return mse
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSS_NAMES)}")
