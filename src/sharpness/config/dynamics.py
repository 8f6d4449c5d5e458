"""The dynamics study: step-based training with the Hessian tracked inline (edge of stability).

A study is a grid (``lr`` × ``rho`` × optional model ``width``) × ``schedules`` × seeds. A
schedule is one optimizer (``sam``) or a switch (``gd->sam@2000``: GD for the first 2000 steps,
then SAM). Each grid point and schedule resolves to a run; runs that are the same trajectory
share one folder and one job: GD does not depend on ρ, SAM at ρ = 0 *is* GD (full batch) or SGD
(minibatch), and a switch to SAM at ρ = 0 is no switch. A switched run starts from the
checkpoint its first optimizer's pure run leaves at the switch step, so every optimizer a
schedule names is also trained alone (and stored) as the prefix.

The store spans seed × schedule × lr × rho [× width] × step, so that ``sel(schedule="sam",
rho=0)`` is GD and a pure GD schedule repeats along ``rho``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property

from ..runspec import StepPhase, StepRunSpec
from .base import ConfigError, Study

SAM_LIKE = ("sam", "usam", "asam")
_SCHEDULE = re.compile(r"^(?P<first>[a-z]+)(->(?P<second>[a-z]+)@(?P<step>\d+))?$")
# Models that take a `width` option (checked against the builders in tests/test_config.py).
WIDTH_MODELS = ("mlp", "transformer_lm", "vit")
GRID_KEYS = ("lr", "rho", "width")


@dataclass(frozen=True)
class Run:
    """One distinct trajectory of a study (per seed): its folder and its phases."""

    name: str  # folder inside the seed's folder, e.g. "lr0.1/rho0.05/gd-sam/t200"
    point: tuple  # (lr, width) of its grid point; rho lives in the phases
    phases: tuple[tuple[str, int, float], ...]  # (optimizer, until_step, rho)

    @property
    def switch_step(self) -> int | None:
        return self.phases[0][1] if len(self.phases) > 1 else None

    @property
    def prefix(self) -> "Run":
        """The pure run of the first optimizer (itself, for a pure run)."""
        opt, _, rho = self.phases[0]
        steps = self.phases[-1][1]
        return Run(_run_name(self.point, ((opt, steps, rho),)), self.point, ((opt, steps, rho),))


def _tag(value) -> str:
    return f"{value:g}"


def _run_name(point: tuple, phases: tuple) -> str:
    lr, width = point
    parts = [f"lr{_tag(lr)}" + (f"-w{width}" if width is not None else "")]
    rhos = {rho for opt, _, rho in phases if opt in SAM_LIKE}
    if rhos:
        parts.append(f"rho{_tag(rhos.pop())}")
    parts.append("-".join(opt for opt, _, _ in phases))
    if len(phases) > 1:
        parts.append(f"t{phases[0][1]}")
    return "/".join(parts)


class DynamicsStudy(Study, kind="dynamics"):
    horizon_key = "steps"

    @property
    def steps(self) -> int:
        return self.cfg["steps"]

    @property
    def full_batch(self) -> bool:
        return self.cfg["batch_size"] == "full"

    @property
    def base_optimizer(self) -> str:
        """What a SAM-like optimizer is at ρ = 0."""
        return "gd" if self.full_batch else "sgd"

    @property
    def grid(self) -> dict[str, list]:
        """Grid values by key, ``width`` only when the study sweeps it."""
        g = self.cfg["grid"]
        return {key: list(g[key]) for key in GRID_KEYS if g.get(key) is not None}

    @cached_property
    def schedules(self) -> list[str]:
        """The configured schedules plus the pure run of every optimizer they name, in that order."""
        named = list(self.cfg["schedules"])
        for schedule in self.cfg["schedules"]:
            first, second, _ = _parse(schedule)
            for opt in (first, second):
                if opt is not None and opt not in named:
                    named.append(opt)
        return named

    def grid_points(self) -> list[dict]:
        """Every combination of the grid values (lr, rho, width), the last key varying fastest."""
        g = self.grid
        keys = list(g)
        return [dict(zip(keys, values)) for values in itertools.product(*(g[k] for k in keys))]

    def run(self, schedule: str, point: dict) -> Run:
        """The distinct run a schedule is at a grid point (see the module docstring)."""
        first, second, t = _parse(schedule)
        rho = float(point.get("rho", 0.0))

        def phase(opt: str, until: int) -> tuple[str, int, float]:
            if opt in SAM_LIKE and rho == 0:
                return (self.base_optimizer, until, 0.0)
            return (opt, until, rho if opt in SAM_LIKE else 0.0)

        phases = [phase(first, t or self.steps)]
        if second is not None:
            following = phase(second, self.steps)
            if following[0] == phases[0][0]:  # e.g. gd->sam at rho = 0: no switch at all
                phases = [following]
            else:
                phases.append(following)
        key = (float(point["lr"]), point.get("width"))
        return Run(_run_name(key, tuple(phases)), key, tuple(phases))

    @cached_property
    def runs(self) -> dict[str, Run]:
        """Every distinct run of a seed by folder name: the pure runs first, then the branches."""
        found = {}
        for point in self.grid_points():
            for schedule in self.schedules:
                run = self.run(schedule, point)
                found.setdefault(run.name, run)
        return dict(sorted(found.items(), key=lambda item: (item[1].switch_step is not None, item[0])))

    @property
    def prefix_runs(self) -> list[str]:
        return [name for name, run in self.runs.items() if run.switch_step is None]

    @property
    def branch_runs(self) -> list[str]:
        return [name for name, run in self.runs.items() if run.switch_step is not None]

    def prefix_checkpoints(self, seed: int, run_name: str) -> str:
        """The checkpoint folder the switched run ``run_name`` starts from."""
        return f"results/{self.name}/seed{seed}/{self.runs[run_name].prefix.name}/ckpt"

    def run_files(self) -> list[str]:
        """The run.nc of every distinct run of every seed, the inputs of the store."""
        return [f"results/{self.name}/seed{seed}/{run}/run.nc" for seed in self.seeds for run in self.runs]

    def result_files(self) -> list[str]:
        return self.run_files()

    def checkpoint_steps(self, run_name: str) -> list[int]:
        """Steps at which the pure run ``run_name`` hands a checkpoint on to a branch."""
        return sorted({r.switch_step for r in self.runs.values() if r.switch_step and r.prefix.name == run_name})

    def kept_checkpoints(self) -> dict[str, list[str]]:
        folders = {f"results/{self.name}/seed{seed}/{run}/ckpt": self.checkpoint_steps(run)
                   for seed in self.seeds for run in self.prefix_runs}
        return {folder: [f"{folder}/step{t}.pt" for t in steps] for folder, steps in folders.items()}

    @property
    def per_seed_jobs(self) -> bool:
        """Whether one job trains all runs of a seed (``granularity: seed``)."""
        return self.cfg["granularity"] == "seed"

    def seed_plan(self, seed: int) -> list[dict]:
        """What a per-seed job trains, in order: pure runs (leaving checkpoints), then branches."""
        plan = []
        for name, run in self.runs.items():
            item = dict(run=name, spec=self.run_spec(seed, name).to_dict())
            if run.switch_step is None:
                item["keep"] = self.checkpoint_steps(name)
            else:
                item["start_from"] = f"{run.prefix.name}/ckpt/step{run.switch_step}.pt"
            plan.append(item)
        return plan

    def run_spec(self, seed: int, run_name: str) -> StepRunSpec:
        c, run = self.cfg, self.runs[run_name]
        lr, width = run.point
        model = dict(c["model"], **({"width": width} if width is not None else {}))
        phases = []
        for opt, until, rho in run.phases:
            settings = dict(c["optimizers"].get(opt, {}))
            if opt in SAM_LIKE:
                settings["rho"] = rho
            phases.append(StepPhase(opt, until, settings))
        return StepRunSpec(
            seed=seed, steps=self.steps, model=model, loss=c["loss"],
            batch_size=None if self.full_batch else c["batch_size"],
            lr_schedule=dict(c["lr_schedule"], lr=lr), phases=tuple(phases),
            measure_every=c["measure_every"], measure=c["measure"], momentum_policy=c["momentum_policy"],
            augmentation=c["augmentation"], device=c["device"], dtype=c["dtype"], checkpoint_every=c["checkpoint_every"],
            eval_batch_size=c["eval_batch_size"], dataset={k: v for k, v in c["dataset"].items() if k != "download"},
            divergence_loss=c["divergence_loss"],
        )

    def store_runs(self) -> list[tuple[int, str, dict, str]]:
        """(seed, schedule, grid point, run folder) of every cell of the store."""
        return [(seed, schedule, point, self.run(schedule, point).name)
                for seed in self.seeds for schedule in self.schedules for point in self.grid_points()]

    # -- checks ----------------------------------------------------------------------------
    def subset_sizes(self) -> dict[str, int | None]:
        return {"measure.n_samples": self.cfg["measure"].get("n_samples")}

    def check(self) -> None:
        super().check()
        where, c = self.where, self.cfg
        for i, schedule in enumerate(c["schedules"]):
            self._check_schedule(f"{where}.schedules.{i}", schedule)
        if c["measure_every"] > self.steps:
            raise ConfigError(f"config key '{where}.measure_every': {c['measure_every']} is past steps={self.steps}")
        if "width" in self.grid and c["model"]["name"] not in WIDTH_MODELS:
            raise ConfigError(f"config key '{where}.grid.width': model '{c['model']['name']}' has no width option")
        if c["measure"]["ntk_k"] and c["loss"] != "mse":
            raise ConfigError(f"config key '{where}.measure.ntk_k': NTK eigenvalues are measured for loss 'mse' only")

    def _check_schedule(self, key: str, schedule: str) -> None:
        first, second, t = _parse(schedule)
        for opt in (first, second):
            if opt == "gd" and not self.full_batch:
                raise ConfigError(f"config key '{key}': 'gd' is full-batch gradient descent, but batch_size is {self.cfg['batch_size']} (use 'sgd')")
            if opt == "sgd" and self.full_batch:
                raise ConfigError(f"config key '{key}': 'sgd' needs minibatches, but batch_size is 'full' (use 'gd')")
        if second is not None:
            if first == second:
                raise ConfigError(f"config key '{key}': '{schedule}' switches to itself")
            if not 0 < t < self.steps:
                raise ConfigError(f"config key '{key}': switch step {t} must lie strictly between 0 and steps={self.steps}")

    def check_figure(self, fig_id: str, options: dict, key: str) -> None:
        for name in ("lr", "rho", "width"):
            wanted = options.get(name)
            for value in wanted if isinstance(wanted, list) else [] if wanted is None else [wanted]:
                if value not in self.grid.get(name, []):
                    raise ConfigError(f"config key 'figures.plots.{fig_id}.{name}': {value} is not in {self.where}.grid.{name}")
        schedule = options.get("schedule")
        if schedule is not None and schedule not in self.schedules:
            raise ConfigError(f"config key 'figures.plots.{fig_id}.schedule': '{schedule}' is not a schedule of {self.name}")


def _parse(schedule: str) -> tuple[str, str | None, int | None]:
    """"sam" → ("sam", None, None); "gd->sam@200" → ("gd", "sam", 200)."""
    m = _SCHEDULE.match(schedule)
    if m is None:
        raise ConfigError(f"schedule {schedule!r} is neither 'opt' nor 'first->second@step'")
    return m["first"], m["second"], int(m["step"]) if m["step"] else None
