"""Step-based training with the Hessian tracked inline: the trainer of the dynamics study kind.

A run takes ``spec.steps`` updates, full-batch or minibatch (see :class:`~sharpness.runspec.
StepRunSpec` for the batch order), switching optimizer at phase boundaries exactly as the epoch
trainer does. Every ``measure_every`` steps, and at steps 0 and T, it records the training step's
own minibatch loss and gradient norm (means since the previous record), train and test metrics
in eval mode, and everything :func:`sharpness.train.tracking.measure` returns. A loss that is
non-finite or above ``divergence_loss`` ends the run as diverged: recorded, never raised.

State saved every ``checkpoint_every`` steps holds the model, the optimizer, the history and the
warm-start eigenvectors, so a resumed run is bit-identical to an uninterrupted one on the CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data import augment_batch, load_prepared
from ..optim import learning_rate, make_optimizer, set_learning_rate, switch_optimizer
from ..runspec import StepRunSpec, epoch_seed, step_seed
from ..store import provenance_attrs
from ..store.dynamics import run_dataset
from . import checkpoint as ckpt
from .job import run_job
from .loop import _train_step, build_seeded_model, evaluate, resolve_device
from .losses import make_loss
from .tracking import SCALARS, measure

METRICS = ("train_loss", "train_error", "test_loss", "test_error", "batch_loss", "batch_grad_norm", "learning_rate", *SCALARS)


@dataclass
class StepHistory:
    """Records at the measured steps; arrays per step for the eigenvalues."""

    step: list = field(default_factory=list)
    optimizer: list = field(default_factory=list)
    metrics: dict = field(default_factory=lambda: {m: [] for m in METRICS})
    eigen: dict = field(default_factory=lambda: {"eigenvalues": [], "residuals": [], "converged": [], "ntk_eigenvalues": []})
    diverged: bool = False
    diverged_step: int = 0  # 0: did not diverge
    start_step: int = 0  # steps inherited from a prefix run's checkpoint
    last_step: int = 0  # updates taken so far

    def to_state(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_state(cls, state: dict) -> "StepHistory":
        return cls(**{k: state[k] for k in cls.__dataclass_fields__})


def phase_of(spec: StepRunSpec, step: int) -> int:
    """Index of the phase that makes update ``step`` (1-based; step 0 belongs to the first)."""
    for i, phase in enumerate(spec.phases):
        if max(step, 1) <= phase.until_step:
            return i
    raise ValueError(f"step {step} is past the last phase (until_step={spec.phases[-1].until_step})")


class StepTrainer:
    unit = "step"

    def __init__(self, spec: StepRunSpec, data, log=print):
        self.spec, self.log = spec, log
        self.device, self.dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
        self.data = data.to(self.device)
        self.x_train = data.normalized("train", device=self.device, dtype=self.dtype)
        self.x_test = data.normalized("test", device=self.device, dtype=self.dtype)
        self.loss_fn = make_loss(spec.loss, data.num_classes)
        self.model = build_seeded_model(spec, data, self.device, self.dtype)
        self.measure_x, self.measure_y = self._measurement_subset()
        size = spec.measure["batch_size"]
        self.batches = [(self.measure_x[i : i + size], self.measure_y[i : i + size]) for i in range(0, len(self.measure_x), size)]
        self.history = StepHistory()
        self.optimizer = None
        self.warm: dict = {}  # previous eigenvectors, the warm start of the next measurement
        self._order: tuple[int, torch.Tensor] | None = None  # (epoch, permutation) of the last batch

    def _measurement_subset(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``measure.n_samples`` training examples (all by default), no augmentation."""
        n = self.spec.measure["n_samples"] or len(self.x_train)
        return self.x_train[:n], self.data.y_train[:n]

    # -- state -----------------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self.history.last_step

    def accepts(self, state: dict) -> bool:
        return state["prefix_key"] == self.spec.prefix_key(int(state["step"])) and state.get("code") == ckpt.code_digest(__name__)

    def _optimizer_for(self, step: int):
        phase = self.spec.phases[phase_of(self.spec, step)]
        return make_optimizer(phase, self.model, learning_rate(self.spec.lr_schedule, max(step, 1), self.spec.steps))

    def restore(self, path: str | Path, as_starting_point: bool = False) -> None:
        state = ckpt.load(path)
        step = int(state["step"])
        if state["prefix_key"] != self.spec.prefix_key(step):
            raise ValueError(f"checkpoint {path} (step {step}) was written by a run whose trajectory up to that step differs from this one")
        self.model.load_state_dict(state["model"])
        self.optimizer = self._optimizer_for(step)
        if state["optimizer"]:
            self.optimizer.load_state_dict(state["optimizer"])
        self.history = StepHistory.from_state(state["history"])
        self.warm = dict(state["warm"])
        if as_starting_point:
            self.history.start_step = step

    def state(self) -> dict:
        return dict(step=self.history.last_step, prefix_key=self.spec.prefix_key(self.history.last_step), code=ckpt.code_digest(__name__),
                    model=self.model.state_dict(), optimizer=self.optimizer.state_dict() if self.optimizer else {},
                    history=self.history.to_state(), warm=self.warm)

    # -- training --------------------------------------------------------------------------
    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The data of update ``step``: all of it, or the minibatch the (seed, epoch) order gives."""
        spec, data = self.spec, self.data
        if spec.full_batch and not spec.augmentation_enabled:
            return self.x_train, data.y_train
        n = len(data.x_train)
        size = n if spec.full_batch else spec.batch_size
        per_epoch = math.ceil(n / size)
        epoch, index = (step - 1) // per_epoch + 1, (step - 1) % per_epoch
        if self._order is None or self._order[0] != epoch:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(spec.seed, epoch)))
            self._order = (epoch, order.to(self.device))
        idx = self._order[1][index * size : (index + 1) * size]
        generator = torch.Generator().manual_seed(step_seed(spec.seed, step))
        torch.manual_seed(step_seed(spec.seed, step))  # dropout: also a function of (seed, step)
        x = augment_batch(data.x_train[idx], spec.augmentation, generator) if spec.augmentation_enabled else data.x_train[idx]
        return data.normalize(x, dtype=self.dtype), data.y_train[idx]

    def run(self, state_dir: str | Path, keep_steps=()) -> StepHistory:
        """Train to ``spec.steps``, saving resumable state into ``state_dir`` every
        ``checkpoint_every`` steps and at ``keep_steps``; stops (recorded) on divergence."""
        spec, h = self.spec, self.history
        keep = set(keep_steps)
        if self.optimizer is None:
            self.optimizer = self._optimizer_for(0)
        if h.diverged:
            self.log(f"starting point diverged at step {h.diverged_step}: nothing to train")
            return h
        if h.last_step == 0 and not h.step:
            self._record(0, math.nan, math.nan)
        loss_sum = norm_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        count, tic = 0, time.perf_counter()
        for step in range(h.last_step + 1, spec.steps + 1):
            lr = learning_rate(spec.lr_schedule, step, spec.steps)
            if step > 1 and phase_of(spec, step) != phase_of(spec, step - 1):
                phase = spec.phases[phase_of(spec, step)]
                self.optimizer = switch_optimizer(self.optimizer, phase, self.model, lr, spec.momentum_policy)
                self.log(f"step {step}: switch to {phase.optimizer} (momentum {spec.momentum_policy})")
            set_learning_rate(self.optimizer, lr)
            loss, grad_norm = _train_step(self.model, self.optimizer, self.loss_fn, *self._batch(step))
            loss_sum, norm_sum, count = loss_sum + loss.double(), norm_sum + grad_norm.double(), count + 1
            h.last_step = step
            if step % spec.measure_every == 0 or step == spec.steps:
                self._record(step, float(loss_sum) / count, float(norm_sum) / count)
                self._log(step, time.perf_counter() - tic)
                loss_sum = norm_sum = torch.zeros_like(loss_sum)
                count, tic = 0, time.perf_counter()
                if h.diverged:
                    ckpt.save_atomic(self.state(), ckpt.state_path(state_dir, step, self.unit))
                    break
            if step % spec.checkpoint_every == 0 or step in keep or step == spec.steps:
                ckpt.save_atomic(self.state(), ckpt.state_path(state_dir, step, self.unit))
                ckpt.prune_states(state_dir, keep, self.unit)
        return h

    def _record(self, step: int, batch_loss: float, batch_grad_norm: float) -> None:
        spec, h = self.spec, self.history
        phase = spec.phases[phase_of(spec, step)]
        lr = learning_rate(spec.lr_schedule, max(step, 1), spec.steps)
        train = evaluate(self.model, self.measure_x, self.measure_y, self.loss_fn, spec.eval_batch_size)
        test = evaluate(self.model, self.x_test, self.data.y_test, self.loss_fn, spec.eval_batch_size)
        row = dict(train_loss=train[0], train_error=train[1], test_loss=test[0], test_error=test[1],
                   batch_loss=batch_loss, batch_grad_norm=batch_grad_norm, learning_rate=lr)
        losses = [v for v in (batch_loss, train[0]) if not (step == 0 and math.isnan(v))]
        if not all(math.isfinite(v) for v in losses) or max(losses) > spec.divergence_loss:
            h.diverged, h.diverged_step = True, step
            self.log(f"DIVERGED at step {step}: loss non-finite or above {spec.divergence_loss:g}; the run stops here and is recorded as diverged")
            measured = {}
        else:
            measured = measure(self.model, self.loss_fn, self.batches, spec.measure, phase.optimizer,
                               float(phase.settings.get("rho", 0.0)), lr, self.warm)
        k, ntk_k = spec.measure["k"], spec.measure["ntk_k"]
        for name in METRICS:
            h.metrics[name].append(float(row.get(name, measured.get(name, math.nan))))
        for name, size in (("eigenvalues", k), ("residuals", k), ("converged", k), ("ntk_eigenvalues", ntk_k)):
            h.eigen[name].append(np.asarray(measured.get(name, np.full(size, np.nan)), float).tolist())
        h.step.append(step)
        h.optimizer.append(phase.optimizer)

    def _log(self, step: int, seconds: float) -> None:
        m = {k: v[-1] for k, v in self.history.metrics.items()}
        lam = self.history.eigen["eigenvalues"][-1][0]
        self.log(f"step {step}/{self.spec.steps} [{self.history.optimizer[-1]}] lr={m['learning_rate']:.4g} loss={m['train_loss']:.4g} "
                 f"lambda_max={lam:.4g} 2/lr={m['gd_edge']:.4g} own_edge={m['sam_edge']:.4g} |g|={m['grad_norm']:.3g} "
                 f"test_err={m['test_error']:.4f} ({seconds:.2f}s)")

    # -- outputs ---------------------------------------------------------------------------
    def run_dataset(self, attrs: dict):
        h, spec = self.history, self.spec
        return run_dataset(h.step, h.optimizer, h.metrics, h.eigen, spec.measured_steps, {**attrs, **dict(
            diverged=int(h.diverged), diverged_step=h.diverged_step, start_step=h.start_step,
            steps_trained=h.last_step - h.start_step, seed=spec.seed, device=spec.device, dtype=spec.dtype,
            momentum_policy=spec.momentum_policy, full_batch=int(spec.full_batch),
            n_parameters=sum(p.numel() for p in self.model.parameters() if p.requires_grad),
        )})

    def summary(self) -> str:
        h = self.history
        return f"done: step {h.last_step} of {self.spec.steps} (continued from step {h.start_step}), diverged={h.diverged}"


def dynamics_job(spec: StepRunSpec, data_path: str, state_dir: str, final_checkpoint: str, run_netcdf: str,
                 keep: dict[int, str] | None = None, start_from: str | None = None, log=print) -> None:
    """Train the step-based run ``spec`` as one job (see :func:`sharpness.train.job.run_job`)."""
    data = load_prepared(data_path, preprocess=spec.dataset.get("preprocess", "standardize"))
    trainer = StepTrainer(spec, data, log=log)
    attrs = provenance_attrs(spec.to_dict(), run_spec=spec.to_dict(), dataset_sha256=data.meta.get("sha256", ""),
                             dataset_description=data.meta.get("description", data.name))
    run_job(trainer, state_dir, final_checkpoint, run_netcdf, attrs, keep=keep, start_from=start_from, log=log)
