"""The epoch-based training loop with optimizer switching, exact resume and divergence handling."""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data import DatasetTensors, augment_batch, file_sha256
from ..models import build_model
from ..optim import (
    SAM,
    EigenSAM,
    frozen_bn_statistics,
    learning_rate,
    make_optimizer,
    phase_index,
    set_learning_rate,
    switch_optimizer,
)
from ..runspec import FAST_PATH_DEFAULTS, RunSpec, epoch_seed, optimizer_type
from ..store.run import run_dataset
from . import checkpoint as ckpt
from .adversarial import PGDSettings, input_transform, pgd_attack, robust_error
from .losses import make_loss

METRICS = ("train_loss", "train_error", "test_loss", "test_error", "lr", "grad_norm")


@dataclass
class RunHistory:
    """Per-epoch metrics of epochs 1…len; ``optimizer`` names the optimizer of each epoch."""

    metrics: dict = field(default_factory=lambda: {m: [] for m in METRICS})
    optimizer: list = field(default_factory=list)
    diverged: bool = False
    diverged_epoch: int = 0  # 0: did not diverge
    start_epoch: int = 0  # epochs inherited from a prefix run's checkpoint, not trained by this run

    @property
    def last_epoch(self) -> int:
        return len(self.optimizer)

    def to_state(self) -> dict:
        return dict(
            metrics=self.metrics, optimizer=self.optimizer, diverged=self.diverged,
            diverged_epoch=self.diverged_epoch, start_epoch=self.start_epoch,
        )

    @classmethod
    def from_state(cls, state: dict) -> "RunHistory":
        return cls(
            metrics={k: list(v) for k, v in state["metrics"].items()},
            optimizer=list(state["optimizer"]),
            diverged=bool(state["diverged"]),
            diverged_epoch=int(state["diverged_epoch"]),
            start_epoch=int(state.get("start_epoch", 0)),
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device")
    return torch.device(name)


def build_seeded_model(spec: RunSpec, data: DatasetTensors, device, dtype) -> nn.Module:
    """Initialisation is a function of the seed only (and, for fine-tuning, of the pretrained
    model in ``spec.init_from``, whose parameters replace all but the ``fresh`` ones)."""
    torch.manual_seed(spec.seed)
    model = build_model(spec.model, tuple(data.x_train.shape[1:]), data.num_classes)
    init_from = getattr(spec, "init_from", None)  # step-based runs do not fine-tune
    if init_from is not None:
        load_pretrained(model, init_from["path"], init_from.get("fresh", ()))
    return model.to(device=device, dtype=dtype)


def load_pretrained(model: nn.Module, path: str, fresh=()) -> list[str]:
    """Copy the tensors of the checkpoint ``path`` (a run's final.pt) into ``model``, except
    those whose names start with a ``fresh`` prefix; returns the names copied. Every other
    tensor must be there with the same shape: a fine-tuning start is all or nothing."""
    source = ckpt.load(path)["model"]
    target = model.state_dict()
    kept = [name for name in target if not any(name.startswith(prefix) for prefix in fresh)]
    wrong = [n for n in kept if n not in source or source[n].shape != target[n].shape]
    if wrong:
        raise ValueError(f"{path} does not fit the model to fine-tune: {', '.join(wrong[:5])} missing or of another shape "
                         f"(leave the new head out with init_from.fresh)")
    model.load_state_dict({**target, **{n: source[n].to(target[n].dtype) for n in kept}})
    return kept


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, batch_size: int) -> tuple[float, float]:
    """Mean loss and error fraction over (x, y) in eval mode (BatchNorm running statistics).

    Every target counts once: an example's class, or each next character of a sequence."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    wrong = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        t = y[i : i + batch_size]
        loss_sum += loss_fn(out, t).double() * t.numel()
        wrong += (out.argmax(-1) != t).sum()
    model.train(was_training)
    return float(loss_sum) / y.numel(), int(wrong) / y.numel()


def compiled_for_training(model: nn.Module, option) -> nn.Module:
    """The module the training passes call for ``fast_path.compile`` = ``option``.

    Shapes are static (``dynamic=False``): an epoch's last, smaller batch gets a graph of its
    own instead of turning the batch dimension symbolic, which inductor's CUDA graphs skip.
    SAM's two passes share one graph, since :func:`frozen_bn_statistics` leaves BatchNorm's
    flags alone (``tests/test_fast_path.py`` counts the graphs)."""
    if not option:
        return model
    return torch.compile(model, mode="default" if option is True else option, dynamic=False)


def _global_grad_norm(model: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _train_step(model, optimizer, loss_fn, x, y, forward=contextlib.nullcontext) -> tuple[torch.Tensor, torch.Tensor]:
    """One update; returns (loss at θ, ‖∇L_ξ(θ)‖) without synchronising the device.
    ``forward`` is the context of the forward passes (autocast on the fast path)."""
    with forward():
        loss = loss_fn(model(x), y)
    hvp = None
    if isinstance(optimizer, EigenSAM) and optimizer.refresh_due:
        hvp = _minibatch_hvp(model, loss)
    else:
        loss.backward()
    if isinstance(optimizer, SAM):
        grad_norm = optimizer.first_step(zero_grad=True, hvp=hvp) if hvp else optimizer.first_step(zero_grad=True)
        with frozen_bn_statistics(model):
            with forward():
                perturbed = loss_fn(model(x), y)
            perturbed.backward()
        optimizer.second_step(zero_grad=True)
    else:
        grad_norm = _global_grad_norm(model)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return loss.detach(), grad_norm


def _minibatch_hvp(model: nn.Module, loss: torch.Tensor):
    """Fill ``.grad`` with ∇L_ξ(θ) and return v ↦ H_ξ v by double backward through the same
    forward pass (train mode: the minibatch's batch statistics; no extra forward, so BatchNorm
    running statistics are updated once, as in every step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, create_graph=True)
    for p, g in zip(params, grads):
        p.grad = g.detach().clone()

    def hvp(vectors):
        return torch.autograd.grad(grads, params, vectors, retain_graph=True)

    return hvp


def cuda_determinism() -> dict:
    """The settings that decide whether a CUDA run can be repeated bit for bit."""
    return {
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "device_name": torch.cuda.get_device_name(),
    }


# What the trainer records about the Eigen-SAM perturbation and the HVPs behind it.
EIGEN_SAM_HVP_MODE = "train mode on the step's minibatch (batch statistics), at θ, by double backward of the first pass"


class Trainer:
    """Trains one run described by a :class:`RunSpec` on a prepared dataset."""

    unit = "epoch"  # what a position in the run counts: resumable states are "epoch<n>.pt"

    def __init__(self, spec: RunSpec, data: DatasetTensors, log=print):
        self.spec, self.log = spec, log
        self.device = resolve_device(spec.device)
        self.dtype = getattr(torch, spec.dtype)
        self.data = data.to(self.device)
        self.x_test = data.normalized("test", device=self.device, dtype=self.dtype)
        self.x_train_eval = data.normalized("train", device=self.device, dtype=self.dtype)
        self.loss_fn = make_loss(spec.loss, data.num_classes)
        self.model = build_seeded_model(spec, data, self.device, self.dtype)
        self.fast = {**FAST_PATH_DEFAULTS, **(spec.fast_path or {})}
        if self.fast["channels_last"]:
            self.model = self.model.to(memory_format=torch.channels_last)
        # The training passes may run a compiled graph of the same parameters; evaluation,
        # attacks and checkpoints use the module itself.
        self.train_model = compiled_for_training(self.model, self.fast["compile"])
        # A resumable state is valid only for the pretrained file it started from.
        self.init_sha256 = file_sha256(spec.init_from["path"]) if spec.init_from else None
        self.history = RunHistory()
        for name in self._optional_metrics():
            self.history.metrics[name] = []
        self.optimizer = None
        kinds = {optimizer_type(p) for p in spec.phases}
        self.to_input = input_transform(self.data) if "at" in kinds or spec.robust_eval else None

    def _optional_metrics(self) -> list[str]:
        names = []
        if self.spec.robust_eval:
            names += ["robust_test_loss", "robust_test_error"]
        if any(optimizer_type(p) == "eigen_sam" for p in self.spec.phases):
            names.append("eigen_alignment")
        return names

    # -- state -----------------------------------------------------------------------------
    def _optimizer_for_epoch(self, epoch: int):
        phase = self.spec.phases[phase_index(list(self.spec.phases), max(epoch, 1))]
        lr = learning_rate(self.spec.lr_schedule, max(epoch, 1), self.spec.epochs)
        return make_optimizer(phase, self.model, lr)

    def restore(self, path: str | Path, as_starting_point: bool = False) -> None:
        """Continue from a checkpoint of this run, or (``as_starting_point``) from a checkpoint
        of a run sharing its prefix, whose epochs then count as inherited, not trained."""
        state = ckpt.load(path)
        epoch = int(state["epoch"])
        if state["prefix_key"] != self.spec.prefix_key(epoch):
            raise ValueError(
                f"checkpoint {path} (epoch {epoch}) was written by a run whose trajectory up to "
                "that epoch differs from this one (seed, model, data, schedule or optimizer settings)"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer = self._optimizer_for_epoch(epoch)
        if state["optimizer"]:
            self.optimizer.load_state_dict(state["optimizer"])
        self.history = RunHistory.from_state(state["history"])
        if as_starting_point:
            self.history.start_epoch = epoch

    @property
    def position(self) -> int:
        return self.history.last_epoch

    def accepts(self, state: dict) -> bool:
        """Whether a saved state lies on this run's trajectory and was written by this code."""
        return (
            state["prefix_key"] == self.spec.prefix_key(int(state["epoch"]))
            and state.get("code") == ckpt.code_digest()
            and state.get("init_sha256") == self.init_sha256
        )

    def state(self) -> dict:
        epoch = self.history.last_epoch
        return dict(
            epoch=epoch,
            prefix_key=self.spec.prefix_key(epoch),
            code=ckpt.code_digest(),
            init_sha256=self.init_sha256,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict() if self.optimizer is not None else {},
            history=self.history.to_state(),
        )

    # -- training --------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> tuple[float, float]:
        """One pass over the data in the order of (seed, epoch); returns mean loss and ‖g‖."""
        spec, data = self.spec, self.data
        phase = spec.phases[phase_index(list(spec.phases), epoch)]
        n = len(data.x_train)
        gen = torch.Generator().manual_seed(epoch_seed(spec.seed, epoch))
        torch.manual_seed(epoch_seed(spec.seed, epoch))  # dropout etc.: also a function of (seed, epoch)
        order = torch.randperm(n, generator=gen).to(self.device)
        batch = n if phase.full_batch else spec.batch_size
        attack = PGDSettings(**_pgd_keys(phase.settings)) if optimizer_type(phase) == "at" else None
        self.model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        norm_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        align_sum, align_steps = torch.zeros((), dtype=torch.float64, device=self.device), 0
        steps = 0
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            x = augment_batch(data.x_train[idx], spec.augmentation, gen)
            y = data.y_train[idx]
            if attack is None:
                x = data.normalize(x, dtype=self.dtype)
            else:
                # The attack draws its random start from the epoch's generator: still a function of (seed, epoch).
                x = self.to_input(pgd_attack(self.model, self.loss_fn, x.to(self.dtype) / 255, y, self.to_input, attack, gen, model_mode="train"))
            if self.fast["channels_last"] and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            loss, grad_norm = _train_step(self.train_model, self.optimizer, self.loss_fn, x, y, self._forward_context)
            if isinstance(self.optimizer, EigenSAM):
                align_sum += self.optimizer.last_alignment.double()
                align_steps += 1
            loss_sum += loss.double()
            norm_sum += grad_norm.double()
            steps += 1
        self._epoch_alignment = float(align_sum) / align_steps if align_steps else math.nan
        return float(loss_sum) / steps, float(norm_sum) / steps

    def run(self, state_dir: str | Path, keep_epochs=()) -> RunHistory:
        """Train to ``spec.epochs``, checkpointing into ``state_dir`` every ``checkpoint_every``
        epochs and at each epoch in ``keep_epochs``; stops early (and records it) on divergence."""
        spec = self.spec
        keep_epochs = set(keep_epochs)
        phases = list(spec.phases)
        if self.optimizer is None:
            self.optimizer = self._optimizer_for_epoch(0)
        start = self.history.last_epoch
        if self.history.diverged:
            self.log(f"starting point diverged at epoch {self.history.diverged_epoch}: nothing to train")
            return self.history
        for epoch in range(start + 1, spec.epochs + 1):
            tic = time.perf_counter()
            phase = phases[phase_index(phases, epoch)]
            lr = learning_rate(spec.lr_schedule, epoch, spec.epochs)
            if epoch > 1 and phase_index(phases, epoch) != phase_index(phases, epoch - 1):
                self.optimizer = switch_optimizer(self.optimizer, phase, self.model, lr, spec.momentum_policy)
                self.log(f"epoch {epoch}: switch to {phase.optimizer} (momentum {spec.momentum_policy})")
            set_learning_rate(self.optimizer, lr)
            mean_loss, grad_norm = self.train_epoch(epoch)
            self._record(epoch, phase.optimizer, lr, grad_norm)
            m = self.history.metrics
            losses = (mean_loss, m["train_loss"][-1], m["test_loss"][-1])
            diverged = not all(math.isfinite(v) for v in losses) or max(losses[:2]) > spec.divergence_loss
            self.log(
                f"epoch {epoch}/{spec.epochs} [{phase.optimizer}] lr={lr:.4g} train_loss={m['train_loss'][-1]:.4f} "
                f"train_err={m['train_error'][-1]:.4f} test_loss={m['test_loss'][-1]:.4f} "
                f"test_err={m['test_error'][-1]:.4f} grad_norm={grad_norm:.4g} ({time.perf_counter() - tic:.2f}s)"
            )
            if diverged:
                self.history.diverged, self.history.diverged_epoch = True, epoch
                self.log(f"DIVERGED at epoch {epoch}: loss non-finite or above {spec.divergence_loss:g}; "
                         "the run stops here and is recorded as diverged")
                ckpt.save_atomic(self.state(), ckpt.state_path(state_dir, epoch))
                break
            if epoch % spec.checkpoint_every == 0 or epoch in keep_epochs or epoch == spec.epochs:
                ckpt.save_atomic(self.state(), ckpt.state_path(state_dir, epoch))
                ckpt.prune_states(state_dir, keep_epochs)
        return self.history

    def run_dataset(self, attrs: dict):
        """The per-run file; ``start_epoch`` is the epoch of the prefix checkpoint the run
        continued from (0: none)."""
        history, spec = self.history, self.spec
        return run_dataset(history.metrics, history.optimizer, spec.epochs, {**attrs, **dict(
            diverged=int(history.diverged),
            diverged_epoch=history.diverged_epoch,
            start_epoch=history.start_epoch,
            epochs_trained=history.last_epoch - history.start_epoch,
            seed=spec.seed,
            device=spec.device,
            dtype=spec.dtype,
            momentum_policy=spec.momentum_policy,
            batchnorm_policy="train-mode batch statistics; SAM's perturbed pass does not update running statistics; evaluation in eval mode",
            **self._method_attrs(),
        )})

    def _forward_context(self):
        if self.fast["autocast"] == "bfloat16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _method_attrs(self) -> dict:
        """How the optional parts of this run's method were carried out, where it has them."""
        kinds = {optimizer_type(p) for p in self.spec.phases}
        attrs = {"fast_path": json.dumps(self.fast, sort_keys=True)}
        if self.device.type == "cuda":
            attrs["cuda_determinism"] = json.dumps(cuda_determinism(), sort_keys=True)
        if "eigen_sam" in kinds:
            attrs["eigen_sam_hvp"] = EIGEN_SAM_HVP_MODE
        if "at" in kinds:
            attrs["adversarial_training"] = "L-inf PGD in pixel space (x/255), attacked in train mode with BatchNorm statistics frozen, random start from the epoch's generator"
        if self.spec.init_from:
            attrs["init_sha256"] = self.init_sha256
        return attrs

    def summary(self) -> str:
        h = self.history
        return f"done: epoch {h.last_epoch} of {self.spec.epochs} (continued from epoch {h.start_epoch}), diverged={h.diverged}"

    def _record(self, epoch: int, optimizer: str, lr: float, grad_norm: float) -> None:
        data, m = self.data, self.history.metrics
        train_loss, train_err = evaluate(self.model, self.x_train_eval, data.y_train, self.loss_fn, self.spec.eval_batch_size)
        test_loss, test_err = evaluate(self.model, self.x_test, data.y_test, self.loss_fn, self.spec.eval_batch_size)
        for k, v in zip(METRICS, (train_loss, train_err, test_loss, test_err, lr, grad_norm)):
            m[k].append(v)
        if self.spec.robust_eval:
            # Its own generator: the evaluation must not shift the training's random draws.
            gen = torch.Generator().manual_seed(epoch_seed(self.spec.seed, epoch) ^ _ROBUST_EVAL_SALT)
            robust = robust_error(self.model, self.loss_fn, data.x_test, data.y_test, self.to_input,
                                  PGDSettings(**_pgd_keys(self.spec.robust_eval)), self.spec.eval_batch_size, gen)
            m["robust_test_loss"].append(robust[0])
            m["robust_test_error"].append(robust[1])
        if "eigen_alignment" in m:
            m["eigen_alignment"].append(self._epoch_alignment if optimizer_type_name(self.spec, epoch) == "eigen_sam" else math.nan)
        self.history.optimizer.append(optimizer)


# Keeps the robust evaluation's PGD random starts apart from the training draws of the same epoch.
_ROBUST_EVAL_SALT = 0x5A5A5A5A


def _pgd_keys(settings: dict) -> dict:
    return {k: settings[k] for k in ("epsilon", "step_size", "steps", "random_start") if k in settings}


def optimizer_type_name(spec: RunSpec, epoch: int) -> str:
    """The optimizer type that ran ``epoch``."""
    phases = list(spec.phases)
    return optimizer_type(phases[phase_index(phases, epoch)])
