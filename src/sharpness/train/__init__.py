"""Training: run specs, the epoch loop with optimizer switching, checkpoints and jobs."""

from ..runspec import RunSpec, epoch_seed
from .job import train_job
from .loop import METRICS, RunHistory, Trainer, evaluate
from .losses import LOSS_NAMES, make_loss

__all__ = ["train_job", "METRICS", "RunHistory", "Trainer", "evaluate", "LOSS_NAMES", "make_loss", "RunSpec", "epoch_seed"]
