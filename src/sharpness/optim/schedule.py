"""Optimizer schedules: a run is a list of phases, each with its own optimizer and settings.

Epochs are numbered 1…T; phase i runs the epochs (until_epoch[i-1], until_epoch[i]]. The
learning rate is a function of the global epoch, never of the phase, so a switch changes the
update rule and nothing else (late-sam: same hyperparameters for every switch point).
"""

from __future__ import annotations

import math

import torch

from ..runspec import Phase
from .sam import SAM

# Optimizers a phase may name. `gd` is SGD on the full batch; `usam`/`asam` are SAM variants.
SAM_VARIANTS = {
    "sam": dict(adaptive=False, normalized=True),
    "usam": dict(adaptive=False, normalized=False),
    "asam": dict(adaptive=True, normalized=True),
}
OPTIMIZER_NAMES = ("sgd", "gd", *SAM_VARIANTS)
MOMENTUM_POLICIES = ("carry", "reset")


def phase_index(phases: list[Phase], epoch: int) -> int:
    """Index of the phase that runs ``epoch`` (1-based); epoch 0 belongs to the first phase."""
    for i, phase in enumerate(phases):
        if epoch <= phase.until_epoch:
            return i
    raise ValueError(f"epoch {epoch} is past the last phase (until_epoch={phases[-1].until_epoch})")


def learning_rate(schedule: dict, epoch: int, total_epochs: int) -> float:
    """Learning rate used during ``epoch`` (1-based) by a constant, multistep or cosine schedule.

    multistep: ``lr · gamma^k`` with k the number of milestones m < epoch, so "×0.1 at epoch 80"
    means epochs 81… use the decayed rate. cosine: annealed per epoch from lr to ``min_lr``.
    """
    name, lr = schedule["name"], float(schedule["lr"])
    if name == "constant":
        return lr
    if name == "multistep":
        k = sum(1 for m in schedule["milestones"] if m < epoch)
        return lr * float(schedule["gamma"]) ** k
    if name == "cosine":
        lo = float(schedule.get("min_lr", 0.0))
        return lo + (lr - lo) * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / total_epochs))
    raise ValueError(f"unknown lr_schedule.name {name!r}")


def make_optimizer(phase: Phase, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer a phase names; SAM variants wrap SGD with the same momentum settings."""
    s = phase.settings
    sgd_kwargs = dict(
        lr=lr,
        momentum=float(s.get("momentum", 0.0)),
        weight_decay=float(s.get("weight_decay", 0.0)),
        nesterov=bool(s.get("nesterov", False)),
    )
    if phase.optimizer in ("sgd", "gd"):
        return torch.optim.SGD(params, **sgd_kwargs)
    if phase.optimizer in SAM_VARIANTS:
        return SAM(params, torch.optim.SGD, rho=float(s["rho"]), **SAM_VARIANTS[phase.optimizer], **sgd_kwargs)
    raise ValueError(f"unknown optimizer {phase.optimizer!r}; known: {', '.join(OPTIMIZER_NAMES)}")


def base_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer that owns the momentum buffers (SAM delegates to its base)."""
    return optimizer.base_optimizer if isinstance(optimizer, SAM) else optimizer


def switch_optimizer(old: torch.optim.Optimizer, new_phase: Phase, params, lr: float, policy: str):
    """Build the next phase's optimizer; ``carry`` hands over the momentum buffers, ``reset``
    starts them from zero. Buffers only carry between optimizers of the same base type."""
    if policy not in MOMENTUM_POLICIES:
        raise ValueError(f"momentum policy must be one of {MOMENTUM_POLICIES}, got {policy!r}")
    new = make_optimizer(new_phase, params, lr)
    old_base, new_base = base_optimizer(old), base_optimizer(new)
    if policy == "carry" and type(old_base) is type(new_base):
        for p, state in old_base.state.items():
            if "momentum_buffer" in state and state["momentum_buffer"] is not None:
                new_base.state[p]["momentum_buffer"] = state["momentum_buffer"]
    return new


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
