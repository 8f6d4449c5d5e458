"""Optimizer schedules: a run is a list of phases, each with its own optimizer and settings.

Epochs are numbered 1…T; phase i runs the epochs (until_epoch[i-1], until_epoch[i]]. The
learning rate is a function of the global epoch, never of the phase, so a switch changes the
update rule and nothing else (late-sam: same hyperparameters for every switch point).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from ..runspec import OPTIMIZER_TYPES, Phase, optimizer_type
from .eigen_sam import EigenSAM
from .sam import SAM, asam_parameter_groups

# What a phase's optimizer can be. A phase names an optimizer *label* (a key of the study's
# ``optimizers``); its settings' ``type`` says which of these it is, and defaults to the label, so
# ``sam: {rho: 0.05}`` is SAM and ``sam_small: {type: sam, rho: 0.02}`` is SAM too.
#   sgd, gd     SGD (gd: full batch), momentum and weight decay as configured
#   sam, usam   SAM (ε = ρg/‖g‖) and unnormalized SAM (ε = ρg)
#   asam        adaptive SAM (Kwon et al. 2021), T = |θ| + η on the weights
#   eigen_sam   Eigen-SAM (eigen-sam Alg. 1–2): SAM's ε tilted toward the top Hessian eigenvector
#   adamw       AdamW (Loshchilov & Hutter 2019)
#   at          adversarial training: SGD on L∞ PGD examples (the trainer makes them)
# Every SAM type runs on a base optimizer, ``base: sgd`` (default) or ``base: adamw``.
SAM_VARIANTS = {
    "sam": dict(adaptive=False, normalized=True),
    "usam": dict(adaptive=False, normalized=False),
    "asam": dict(adaptive=True, normalized=True),
}
OPTIMIZER_NAMES = OPTIMIZER_TYPES  # the labels that need no ``type``
SAM_TYPES = (*SAM_VARIANTS, "eigen_sam")
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


def make_optimizer(phase: Phase, model: nn.Module | Iterable[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """The optimizer a phase names, over ``model``'s parameters. ASAM scales only the weights
    when given a module (it needs the parameters' names) and every parameter when given a list."""
    kind, s = optimizer_type(phase), phase.settings
    if kind not in OPTIMIZER_TYPES:
        raise ValueError(f"unknown optimizer type {kind!r}; known: {', '.join(OPTIMIZER_TYPES)}")
    base_name = "adamw" if kind == "adamw" else s.get("base", "sgd")
    base_cls, base_kwargs = _base(base_name, s, lr)
    params = list(model.parameters() if isinstance(model, nn.Module) else model)
    if kind not in SAM_TYPES:
        return base_cls(params, **base_kwargs)
    rho = float(s["rho"])
    if kind == "asam":
        eta = float(s.get("eta", ASAM_ETA))
        groups = asam_parameter_groups(model, eta) if isinstance(model, nn.Module) else [dict(params=params, adaptive_eta=eta)]
        return SAM(groups, base_cls, rho=rho, **SAM_VARIANTS[kind], **base_kwargs)
    if kind == "eigen_sam":
        return EigenSAM(
            params, base_cls, rho=rho, alpha=float(s.get("alpha", 0.2)),
            refresh_every=int(s.get("refresh_every", 100)), power_steps=int(s.get("power_steps", 5)), **base_kwargs,
        )
    return SAM(params, base_cls, rho=rho, **SAM_VARIANTS[kind], **base_kwargs)


# Kwon et al. 2021 §5: η = 0.01 in T = |θ| + η.
ASAM_ETA = 0.01


def _base(name: str, s: dict, lr: float) -> tuple[type[torch.optim.Optimizer], dict]:
    """The base optimizer class and its settings (SGD: momentum, Nesterov; AdamW: betas, eps)."""
    if name == "adamw":
        betas = tuple(float(b) for b in s.get("betas", (0.9, 0.999)))
        return torch.optim.AdamW, dict(lr=lr, betas=betas, eps=float(s.get("eps", 1e-8)), weight_decay=float(s.get("weight_decay", 0.0)))
    if name != "sgd":
        raise ValueError(f"unknown base optimizer {name!r}; known: sgd, adamw")
    return torch.optim.SGD, dict(
        lr=lr,
        momentum=float(s.get("momentum", 0.0)),
        weight_decay=float(s.get("weight_decay", 0.0)),
        nesterov=bool(s.get("nesterov", False)),
    )


def base_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer that owns the momentum buffers (SAM delegates to its base)."""
    return optimizer.base_optimizer if isinstance(optimizer, SAM) else optimizer


def switch_optimizer(old: torch.optim.Optimizer, new_phase: Phase, model: nn.Module | Iterable[torch.Tensor], lr: float, policy: str):
    """Build the next phase's optimizer; ``carry`` hands over the base optimizer's per-parameter
    state (SGD's momentum buffer; AdamW's moments and step count), ``reset`` starts it from
    zero. State only carries between base optimizers of the same class."""
    if policy not in MOMENTUM_POLICIES:
        raise ValueError(f"momentum policy must be one of {MOMENTUM_POLICIES}, got {policy!r}")
    new = make_optimizer(new_phase, model, lr)
    old_base, new_base = base_optimizer(old), base_optimizer(new)
    if policy == "carry" and type(old_base) is type(new_base):
        for p, state in old_base.state.items():
            carried = {k: v for k, v in state.items() if v is not None}
            if carried:
                new_base.state[p].update(carried)
    return new


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
