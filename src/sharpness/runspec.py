"""What one training run is: everything that determines its trajectory, as plain data.

This module is the contract between the study plans (:mod:`sharpness.config`, which builds run
specs from a validated config without importing torch) and the trainers (:mod:`sharpness.train`,
which execute them). It holds no tensors and imports only numpy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np


# What a phase's optimizer can be (see :mod:`sharpness.optim.schedule`). A phase names an
# optimizer label; its settings' ``type`` says which of these it is and defaults to the label.
OPTIMIZER_TYPES = ("sgd", "gd", "sam", "usam", "asam", "eigen_sam", "adamw", "at")


def optimizer_type(phase) -> str:
    """What kind of optimizer a phase (:class:`Phase` or :class:`StepPhase`) runs."""
    return phase.settings.get("type", phase.optimizer)


@dataclass(frozen=True)
class Phase:
    """One optimizer, used up to and including epoch ``until_epoch``."""

    optimizer: str
    until_epoch: int
    settings: dict = field(default_factory=dict)

    @property
    def full_batch(self) -> bool:
        return optimizer_type(self) == "gd" or bool(self.settings.get("full_batch", False))


# The plain training path; a run's ``fast_path`` holds only the options that differ from it.
FAST_PATH_DEFAULTS = {"channels_last": False, "autocast": "none", "compile": False}


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
    # PGD settings of a robust test evaluation after every epoch (None: natural error only).
    # It measures, it does not steer: not part of the prefix key.
    robust_eval: dict | None = None
    # Fine-tuning: {"path": a final.pt of another run, "fresh": parameter-name prefixes left at
    # their seeded initialisation (the new head)}. The file's SHA-256 is checked on resume.
    init_from: dict | None = None
    # Speed options (channels_last, autocast, compile); None: the plain path. They change the
    # numerics, so they are part of the prefix key.
    fast_path: dict | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        d = dict(d)
        d["phases"] = tuple(Phase(**p) for p in d["phases"])
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        # Left out when unset, so the specs (and the jobs' params) of runs without it are as before.
        for optional in ("robust_eval", "init_from", "fast_path"):
            if d[optional] is None:
                del d[optional]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def prefix_key(self, epoch: int) -> str:
        """The parts of the spec that determine the trajectory up to ``epoch``: a checkpoint
        taken at ``epoch`` by a run with the same key is a valid starting point for this run.
        Device, logging and checkpoint cadence do not change the trajectory and are left out."""
        key = dict(
            seed=self.seed,
            model=self.model,
            loss=self.loss,
            batch_size=self.batch_size,
            lr_schedule=self.lr_schedule,
            augmentation=self.augmentation,
            dtype=self.dtype,
            dataset=self.dataset,
        )
        key.update(_phases_key(self.phases, epoch, self.momentum_policy))
        if self.lr_schedule.get("name") == "cosine":
            key["epochs"] = self.epochs  # the cosine curve depends on T
        if self.init_from is not None:
            key["init_from"] = self.init_from
        if self.fast_path is not None:
            key["fast_path"] = self.fast_path
        return json.dumps(key, sort_keys=True)


def _phases_key(phases, until: int, momentum_policy: str, unit: str = "until_epoch") -> dict:
    """The phases as far as ``until`` (epochs or steps): what a trajectory up to there ran."""
    seen = []
    start = 0
    for p in phases:
        if start >= until:
            break
        end = getattr(p, unit)
        seen.append({"optimizer": p.optimizer, unit: min(end, until), "settings": p.settings})
        start = end
    # The momentum policy acts at switches, so it matters only once a switch happened.
    return dict(phases=seen, momentum_policy=momentum_policy if len(seen) > 1 else None)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch``'s minibatch order and augmentation: a function of (seed, epoch)
    only, never of the optimizer or of restarts, so every switch point sees the same batches."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class StepPhase:
    """One optimizer, used for the updates up to and including step ``until_step``."""

    optimizer: str
    until_step: int
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepRunSpec:
    """A step-based run with its Hessian tracked inline (the ``dynamics`` study kind).

    Step s is the s-th update, so "step 0" is the initialisation. ``batch_size`` None means
    full-batch steps; otherwise minibatches of epoch e (= ⌊(s−1)/steps_per_epoch⌋) come from the
    permutation of ``epoch_seed(seed, e)``, exactly as in the epoch-based runs. ``lr_schedule``
    counts steps and carries the run's ``lr``. ``measure`` holds the Hessian-tracking settings,
    applied every ``measure_every`` steps (and at steps 0 and ``steps``).
    """

    seed: int
    steps: int
    model: dict
    loss: str
    batch_size: int | None
    lr_schedule: dict
    phases: tuple[StepPhase, ...]
    measure_every: int
    measure: dict
    momentum_policy: str = "carry"
    augmentation: dict = field(default_factory=dict)
    device: str = "cpu"
    dtype: str = "float32"
    checkpoint_every: int = 100
    eval_batch_size: int = 1024
    dataset: dict = field(default_factory=dict)
    divergence_loss: float = 1.0e6

    @classmethod
    def from_dict(cls, d: dict) -> "StepRunSpec":
        d = dict(d)
        d["phases"] = tuple(StepPhase(**p) for p in d["phases"])
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def full_batch(self) -> bool:
        return self.batch_size is None

    @property
    def augmentation_enabled(self) -> bool:
        a = self.augmentation
        return bool(a.get("flip")) or a.get("crop_padding", 0) > 0 or a.get("cutout", 0) > 0

    @property
    def measured_steps(self) -> list[int]:
        """Steps at which the run records: 0, every ``measure_every``-th, and the last."""
        return sorted({0, *range(self.measure_every, self.steps + 1, self.measure_every), self.steps})

    def prefix_key(self, step: int) -> str:
        """What determines the trajectory and its measurements up to ``step`` (see
        :meth:`RunSpec.prefix_key`); the measurement settings are part of it because the
        recorded history up to ``step`` is handed on with the state."""
        key = dict(
            seed=self.seed, model=self.model, loss=self.loss, batch_size=self.batch_size, lr_schedule=self.lr_schedule,
            augmentation=self.augmentation, dtype=self.dtype, dataset=self.dataset, measure_every=self.measure_every,
            measure=self.measure, eval_batch_size=self.eval_batch_size, divergence_loss=self.divergence_loss,
        )
        key.update(_phases_key(self.phases, step, self.momentum_policy, unit="until_step"))
        if self.lr_schedule.get("name") == "cosine":
            key["steps"] = self.steps
        return json.dumps(key, sort_keys=True)


def step_seed(seed: int, step: int) -> int:
    """Seed of step ``step``'s augmentation and dropout: a function of (seed, step) only, so a
    run resumed mid-epoch draws what an uninterrupted one would have."""
    return int(np.random.SeedSequence([seed, step, 1]).generate_state(1, dtype=np.uint64)[0] >> 1)


class RunIdentityError(ValueError):
    """A run file written by another run than the one the config plans at its place."""


def _whole_run_key(spec: RunSpec | StepRunSpec) -> str:
    """The prefix key over the run's whole length: what the run is."""
    return spec.prefix_key(spec.epochs if isinstance(spec, RunSpec) else spec.steps)


def check_run_identity(path, recorded: dict | str | None, planned: RunSpec | StepRunSpec) -> None:
    """Refuse the file ``path`` unless the run spec it records (``recorded``, a dict or its
    JSON) is the planned run over the planned run's length (its prefix key): a file from
    another optimizer's folder, or trained at settings the config no longer asks for, is
    refused naming where the two differ, instead of being used in the planned run's place."""
    expected = json.loads(_whole_run_key(planned))
    try:
        found_spec = type(planned).from_dict(json.loads(recorded) if isinstance(recorded, str) else recorded)
        horizon = planned.epochs if isinstance(planned, RunSpec) else planned.steps
        found = json.loads(found_spec.prefix_key(horizon))
    except (TypeError, ValueError, KeyError, AttributeError):
        raise RunIdentityError(f"{path}: records no readable run spec; this config plans the run {expected}") from None
    differ = [k for k in sorted(set(found) | set(expected)) if found.get(k) != expected.get(k)]
    if differ:
        raise RunIdentityError(f"{path}: written by another run than the one this config plans there; it holds "
                               + "; ".join(f"{k}={found.get(k)!r}" for k in differ) + ", the plan has "
                               + "; ".join(f"{k}={expected.get(k)!r}" for k in differ))


def run_identity(spec: RunSpec | StepRunSpec) -> str:
    """A short name of what a whole run is (SHA-256 of its prefix key over its length), which
    files derived from the run (Hessian measurements) record, so their readers can check it."""
    return hashlib.sha256(_whole_run_key(spec).encode()).hexdigest()


def check_derived_identity(path, recorded: str | None, planned: RunSpec | StepRunSpec, what: str) -> None:
    """Refuse ``path`` unless the identity it records for ``what`` is the planned run's."""
    if recorded != run_identity(planned):
        raise RunIdentityError(f"{path}: its {what} was measured on run {recorded!r}; this config plans run "
                               f"{run_identity(planned)!r}, which is {_whole_run_key(planned)}")
