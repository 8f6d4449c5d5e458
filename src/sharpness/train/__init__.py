"""Training: run specs, the epoch loop with optimizer switching, adversarial examples,
checkpoints and jobs."""

from ..runspec import RunSpec, epoch_seed
from .adversarial import PGDSettings, input_transform, pgd_attack, robust_error
from .job import train_job
from .loop import METRICS, RunHistory, Trainer, evaluate
from .losses import LOSS_NAMES, make_loss

__all__ = [
    "train_job", "METRICS", "RunHistory", "Trainer", "evaluate", "LOSS_NAMES", "make_loss", "RunSpec", "epoch_seed",
    "PGDSettings", "input_transform", "pgd_attack", "robust_error",
]
