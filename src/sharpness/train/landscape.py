"""Analyses of saved models: loss along a line and on a plane between solutions, and the escape of
a converged solution under SAM (late-sam Figs. 4b, 4c, 14, 16).

Models are rebuilt from their run's spec and final checkpoint, as the Hessian steps do. Losses
are eval-mode means over a fixed subset (the first n training or test examples, no
augmentation). A point θ of a line or plane moves every floating-point entry of the state dict
(parameters and BatchNorm statistics) by the same rule; integer buffers keep the centre's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import load_prepared
from ..optim import learning_rate, make_optimizer
from ..runspec import Phase, RunSpec, check_run_identity, epoch_seed
from ..store import read
from .checkpoint import load_run_state
from .loop import _train_step, build_seeded_model, evaluate, resolve_device
from .losses import make_loss


class SavedRuns:
    """The final models of a source study's runs on one dataset, and the losses on its subsets."""

    def __init__(self, spec: RunSpec, data_path: str, n_samples: int, batch_size: int, device: str = "cpu", log=print):
        self.spec, self.log, self.batch_size = spec, log, batch_size
        self.device, self.dtype = resolve_device(device), getattr(torch, spec.dtype)
        self.data = load_prepared(data_path, preprocess=spec.dataset.get("preprocess", "standardize")).to(self.device)
        self.loss_fn = make_loss(spec.loss, self.data.num_classes)
        self.model = build_seeded_model(spec, self.data, self.device, self.dtype)
        self.train = (self.data.normalized("train", dtype=self.dtype)[:n_samples], self.data.y_train[:n_samples])
        self.test = (self.data.normalized("test", dtype=self.dtype)[:n_samples], self.data.y_test[:n_samples])

    @staticmethod
    def planned(run_dir: str | Path, planned: dict) -> RunSpec:
        """The run the source study plans in ``run_dir``, once its ``run.nc`` is checked to be it."""
        spec = RunSpec.from_dict(planned)
        check_run_identity(Path(run_dir) / "run.nc", read(Path(run_dir) / "run.nc").attrs.get("run_spec"), spec)
        return spec

    def state(self, run_dir: str | Path, planned: dict) -> dict[str, torch.Tensor]:
        """The final model of the run planned in ``run_dir``; another run's files are refused."""
        spec = self.planned(run_dir, planned)
        state = load_run_state(Path(run_dir) / "final.pt", spec, spec.epochs)
        return {k: v.to(self.device) for k, v in state["model"].items()}

    def losses(self, state: dict[str, torch.Tensor] | None = None) -> tuple[float, float]:
        """(train, test) loss of the model at ``state`` (default: where it is)."""
        if state is not None:
            self.model.load_state_dict(state)
        return evaluate(self.model, *self.train, self.loss_fn, self.batch_size)[0], evaluate(self.model, *self.test, self.loss_fn, self.batch_size)[0]


def combine(center: dict, directions: list[tuple[float, dict]]) -> dict:
    """center + Σ cᵢ·dᵢ on floating-point entries; other entries are the centre's."""
    out = {}
    for key, value in center.items():
        if value.is_floating_point():
            out[key] = value + sum(c * d[key] for c, d in directions)
        else:
            out[key] = value
    return out


def difference(a: dict, b: dict) -> dict:
    return {k: a[k] - b[k] if a[k].is_floating_point() else torch.zeros_like(a[k]) for k in a}


def filter_normalized_direction(state: dict, generator: torch.Generator) -> dict:
    """A Gaussian direction rescaled filter by filter to the norms of ``state``'s filters (Li et
    al. 2018): each slice d[i] of a weight with ≥ 2 dims gets ‖θ[i]‖; biases, normalisation
    parameters and statistics (1-D entries) get 0, as they prescribe."""
    out = {}
    for key, value in state.items():
        if not value.is_floating_point() or value.dim() < 2:
            out[key] = torch.zeros_like(value)
            continue
        d = torch.randn(value.shape, generator=generator, dtype=torch.float64).to(value)
        dims = tuple(range(1, value.dim()))
        norm = lambda t: torch.linalg.vector_norm(t, dim=dims, keepdim=True)  # noqa: E731  (one per filter)
        out[key] = d * norm(value) / norm(d).clamp_min(1e-12)
    return out


def interpolation(runs: SavedRuns, switched: dict, pure: dict, lambdas: np.ndarray) -> np.ndarray:
    """(train, test) loss at θ_λ = (1 − λ)·switched + λ·pure, shape (len(lambdas), 2)."""
    delta = difference(pure, switched)
    return np.array([runs.losses(combine(switched, [(float(lam), delta)])) for lam in lambdas])


def plane(runs: SavedRuns, switched: dict, pure: dict, alphas, betas, draws: int, seed: int, log=print) -> np.ndarray:
    """Train loss on switched + α·δ + β·d for δ = pure − switched and ``draws`` random
    filter-normalized d: shape (draws, len(alphas), len(betas))."""
    delta = difference(pure, switched)
    generator = torch.Generator().manual_seed(seed)
    out = np.empty((draws, len(alphas), len(betas)))
    for k in range(draws):
        d = filter_normalized_direction(switched, generator)
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                out[k, i, j] = runs.losses(combine(switched, [(float(a), delta), (float(b), d)]))[0]
        log(f"plane draw {k + 1}/{draws}: loss {out[k].min():.4g}..{out[k].max():.4g}")
    return out


def escape(runs: SavedRuns, start: dict, phase: Phase, trials: int, steps: int, record_every: int, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) loss every ``record_every`` steps (and at 0) of ``trials`` runs of
    ``phase``'s optimizer from ``start``, at the source's learning rate at its last epoch and
    minibatch size; trial k draws its batches from the (source seed, 10⁶ + k) order. Fresh
    momentum. Returns the losses, shape (trials, records, 2), and the recorded steps."""
    spec = runs.spec
    lr = learning_rate(spec.lr_schedule, spec.epochs, spec.epochs)
    x, y = runs.data.x_train, runs.data.y_train
    n, size = len(x), spec.batch_size
    recorded = sorted({0, *range(record_every, steps + 1, record_every), steps})
    out = np.empty((trials, len(recorded), 2))
    for trial in range(trials):
        runs.model.load_state_dict(start)
        optimizer = make_optimizer(phase, runs.model, lr)
        generator = torch.Generator().manual_seed(epoch_seed(spec.seed, 10**6 + trial))
        order, cursor, row = torch.randperm(n, generator=generator), 0, 0
        for step in range(steps + 1):
            if step == recorded[row]:
                out[trial, row] = runs.losses()
                row += 1
            if step == steps:
                break
            if cursor >= n:
                order, cursor = torch.randperm(n, generator=generator), 0
            idx = order[cursor : cursor + size].to(runs.device)
            cursor += size
            runs.model.train()
            _train_step(runs.model, optimizer, runs.loss_fn, runs.data.normalize(x[idx], dtype=runs.dtype), y[idx])
        if (trial + 1) % max(1, trials // 5) == 0:
            log(f"escape trial {trial + 1}/{trials}: train loss {out[trial, 0, 0]:.3g} -> max {out[trial, :, 0].max():.3g} -> {out[trial, -1, 0]:.3g}")
    return out, np.asarray(recorded)


def analyse(source_dir: str | Path, seeds: list[int], switched_run: str, pure_run: str, data_path: str, cfg: dict,
            escape_settings: dict, specs: dict, log=print) -> dict:
    """Every analysis of a landscape study (its config ``cfg``) on the source's final models:
    the interpolation for every seed, the plane and the escape for the first. ``specs``: seed
    (as a string) → run folder → spec, the runs the source study plans."""
    source_dir = Path(source_dir)
    folders = {seed: [(source_dir / f"seed{seed}" / run, specs[str(seed)][run]) for run in (switched_run, pure_run)] for seed in seeds}
    runs = SavedRuns(SavedRuns.planned(*folders[seeds[0]][1]), data_path, cfg["n_samples"], cfg["batch_size"], cfg["device"], log)
    i, p, e = cfg["interpolation"], cfg["plane"], cfg["escape"]
    lambdas = np.round(np.arange(i["min"], i["max"] + i["step"] / 2, i["step"]), 10)
    line = np.stack([interpolation(runs, runs.state(*a), runs.state(*b), lambdas) for a, b in folders.values()])
    log(f"interpolation: train loss at lambda=0 {line[:, np.argmin(abs(lambdas)), 0]}, at 1 {line[:, np.argmin(abs(lambdas - 1)), 0]}")
    switched, pure = (runs.state(*run) for run in folders[seeds[0]])
    alphas, betas = np.linspace(*p["alpha"], p["points"]), np.linspace(*p["beta"], p["points"])
    surface = plane(runs, switched, pure, alphas, betas, p["draws"], p["seed"], log)
    phase = Phase(e["optimizer"], 1, escape_settings)
    escaped, steps = escape(runs, pure, phase, e["trials"], e["steps"], e["record_every"], log)
    return dict(lambdas=lambdas, interpolation=line, alphas=alphas, betas=betas, plane=surface, escape=escaped, escape_steps=steps,
                n_parameters=sum(v.numel() for v in runs.model.parameters()))
