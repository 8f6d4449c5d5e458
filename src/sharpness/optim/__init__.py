"""Optimizers: SGD/GD, SAM and its variants (USAM, ASAM, Eigen-SAM), AdamW, and phase
schedules with optimizer switching."""

from .eigen_sam import EigenSAM, power_iteration
from .sam import SAM, asam_parameter_groups, frozen_bn_statistics
from .schedule import (
    MOMENTUM_POLICIES,
    OPTIMIZER_NAMES,
    OPTIMIZER_TYPES,
    Phase,
    base_optimizer,
    learning_rate,
    make_optimizer,
    optimizer_type,
    phase_index,
    set_learning_rate,
    switch_optimizer,
)

__all__ = [
    "SAM",
    "EigenSAM",
    "asam_parameter_groups",
    "frozen_bn_statistics",
    "power_iteration",
    "MOMENTUM_POLICIES",
    "OPTIMIZER_NAMES",
    "OPTIMIZER_TYPES",
    "Phase",
    "base_optimizer",
    "learning_rate",
    "make_optimizer",
    "optimizer_type",
    "phase_index",
    "set_learning_rate",
    "switch_optimizer",
]
