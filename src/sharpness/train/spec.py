"""What one training run is: everything that determines its trajectory, as plain data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from ..optim.schedule import Phase


@dataclass(frozen=True)
class RunSpec:
    seed: int
    epochs: int
    model: dict
    loss: str
    batch_size: int
    lr_schedule: dict
    phases: tuple[Phase, ...]
    momentum_policy: str = "carry"
    augmentation: dict = field(default_factory=dict)
    device: str = "cpu"
    dtype: str = "float32"
    checkpoint_every: int = 1
    eval_batch_size: int = 1024
    dataset: dict = field(default_factory=dict)
    divergence_loss: float = 1.0e6  # a training loss above this (or non-finite) ends the run

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        d = dict(d)
        d["phases"] = tuple(Phase(**p) for p in d["phases"])
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def prefix_key(self, epoch: int) -> str:
        """The parts of the spec that determine the trajectory up to ``epoch``: a checkpoint
        taken at ``epoch`` by a run with the same key is a valid starting point for this run.
        Device, logging and checkpoint cadence do not change the trajectory and are left out."""
        phases = []
        start = 0
        for p in self.phases:
            if start >= epoch:
                break
            phases.append(dict(optimizer=p.optimizer, until_epoch=min(p.until_epoch, epoch), settings=p.settings))
            start = p.until_epoch
        key = dict(
            seed=self.seed,
            model=self.model,
            loss=self.loss,
            batch_size=self.batch_size,
            lr_schedule=self.lr_schedule,
            augmentation=self.augmentation,
            dtype=self.dtype,
            dataset=self.dataset,
            phases=phases,
            # The momentum policy acts at switches, so it matters only once a switch happened.
            momentum_policy=self.momentum_policy if len(phases) > 1 else None,
        )
        if self.lr_schedule.get("name") == "cosine":
            key["epochs"] = self.epochs  # the cosine curve depends on T
        return json.dumps(key, sort_keys=True)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch``'s minibatch order and augmentation: a function of (seed, epoch)
    only, never of the optimizer or of restarts, so every switch point sees the same batches."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)
