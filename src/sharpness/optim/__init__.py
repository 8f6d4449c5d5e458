"""Optimizers: SGD/GD, SAM and its variants, and phase schedules with optimizer switching."""

from .sam import SAM, frozen_bn_statistics
from .schedule import (
    MOMENTUM_POLICIES,
    OPTIMIZER_NAMES,
    Phase,
    base_optimizer,
    learning_rate,
    make_optimizer,
    phase_index,
    set_learning_rate,
    switch_optimizer,
)

__all__ = [
    "SAM",
    "frozen_bn_statistics",
    "MOMENTUM_POLICIES",
    "OPTIMIZER_NAMES",
    "Phase",
    "base_optimizer",
    "learning_rate",
    "make_optimizer",
    "phase_index",
    "set_learning_rate",
    "switch_optimizer",
]
