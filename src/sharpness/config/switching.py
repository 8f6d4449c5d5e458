"""The switching study of late-sam: every schedule first optimizer → second optimizer at epoch t.

Runs of one seed: each optimizer alone for all T epochs (the "pure" runs, which are also the
prefixes every switched run starts from), and one branch per direction and interior switch
epoch. The store spans seed × direction × switch_epoch, with t = T the first optimizer throughout
and t = 0 the second throughout.
"""

from __future__ import annotations

from functools import cached_property

from ..catalog import entries
from ..runspec import FAST_PATH_DEFAULTS, Phase, RunSpec
from .base import ConfigError, Study


class SwitchingStudy(Study, kind="switching"):
    """One run per seed and schedule, schedules derived from the directions."""

    @property
    def epochs(self) -> int:
        return self.cfg["epochs"]

    @property
    def directions(self) -> list[str]:
        return list(self.cfg["switching"]["directions"])

    @cached_property
    def switch_epochs(self) -> list[int]:
        """All switch epochs of the store: the configured ones plus 0 and T."""
        return sorted({0, self.epochs, *self.cfg["switching"]["switch_epochs"]})

    @property
    def interior_switch_epochs(self) -> list[int]:
        return [t for t in self.switch_epochs if 0 < t < self.epochs]

    @cached_property
    def prefix_optimizers(self) -> list[str]:
        """Optimizers run alone for all T epochs: both ends of every direction."""
        return sorted({opt for d in self.directions for opt in d.split("->")})

    @property
    def spectrum(self) -> dict | None:
        return self.cfg.get("spectrum")

    def checkpoint_epochs(self, optimizer: str) -> list[int]:
        """Epochs before T at which the ``optimizer`` prefix must leave a checkpoint: the switch
        epochs it hands on and the epochs whose spectrum is measured (T is ``final.pt``)."""
        epochs = set()
        if any(d.split("->")[0] == optimizer for d in self.directions):
            epochs.update(self.interior_switch_epochs)
        if self.spectrum and optimizer in self.spectrum["runs"]:
            epochs.update(e for e in self.spectrum["epochs"] if e < self.epochs)
        return sorted(epochs)

    def run_name(self, direction: str, switch_epoch: int) -> str:
        """Folder of the run of (direction, switch epoch) inside a seed's folder: the ends of a
        direction are the pure runs, shared by every direction that names them."""
        first, second = direction.split("->")
        if switch_epoch >= self.epochs:
            return first
        if switch_epoch == 0:
            return second
        return f"{first}-{second}/t{switch_epoch}"

    @cached_property
    def run_names(self) -> list[str]:
        """Every distinct run of a seed: the pure runs, then the switched branches."""
        names = {self.run_name(d, t) for d in self.directions for t in self.switch_epochs}
        return sorted(names, key=lambda n: ("/" in n, n))

    def seed_files(self, seed: int, filename: str) -> list[str]:
        """``filename`` in every run folder of one seed."""
        return [f"results/{self.name}/seed{seed}/{run}/{filename}" for run in self.run_names]

    def result_files(self) -> list[str]:
        return [f for seed in self.seeds for name in ("run.nc", "final.pt") for f in self.seed_files(seed, name)]

    def kept_checkpoints(self) -> dict[str, list[str]]:
        folders = {f"results/{self.name}/seed{seed}/{opt}/ckpt": self.checkpoint_epochs(opt)
                   for seed in self.seeds for opt in self.prefix_optimizers}
        return {folder: [f"{folder}/epoch{t}.pt" for t in epochs] for folder, epochs in folders.items()}

    def spectrum_files(self) -> list[str]:
        """The spectrum.nc of every measured pure run (none without a spectrum section)."""
        if not self.spectrum:
            return []
        return [f"results/{self.name}/seed{seed}/{opt}/spectrum.nc" for seed in self.seeds for opt in self.spectrum["runs"]]

    def run_spec(self, seed: int, first: str, second: str | None = None, switch_epoch: int | None = None) -> RunSpec:
        """The run of ``first`` alone, or of ``first`` until ``switch_epoch`` then ``second``."""
        c = self.cfg
        phases = [Phase(first, self.epochs, c["optimizers"][first])]
        if second is not None:
            phases = [Phase(first, switch_epoch, c["optimizers"][first]), Phase(second, self.epochs, c["optimizers"][second])]
        return RunSpec(
            seed=seed,
            epochs=self.epochs,
            model=c["model"],
            loss=c["loss"],
            batch_size=c["batch_size"],
            lr_schedule=c["lr_schedule"],
            phases=tuple(phases),
            momentum_policy=c["switching"]["momentum_policy"],
            augmentation=c["augmentation"],
            device=c["device"],
            dtype=c["dtype"],
            checkpoint_every=c["checkpoint_every"],
            eval_batch_size=c["eval_batch_size"],
            divergence_loss=c["divergence_loss"],
            dataset={k: v for k, v in c["dataset"].items() if k != "download"},
            robust_eval=c.get("robust_eval"),
            init_from=self._init_from(seed),
            fast_path=_fast_path(c.get("fast_path")),
        )

    def _init_from(self, seed: int) -> dict | None:
        source = self.cfg.get("init_from")
        if source is None:
            return None
        return {"path": f"results/{source['study']}/seed{seed}/{source['run']}/final.pt", "fresh": list(source["fresh"])}

    def init_files(self, seed: int | str) -> list[str]:
        """The pretrained model a seed's runs start from (none unless the study fine-tunes)."""
        start = self._init_from(int(seed))
        return [start["path"]] if start else []

    @property
    def per_seed_jobs(self) -> bool:
        """Whether one job trains all runs of a seed (``granularity: seed``) instead of one job per run."""
        return self.cfg["granularity"] == "seed"

    def branch_runs(self) -> list[tuple[str, str, int]]:
        """(first, second, t) of every switched run of a seed, in the order of ``run_names``."""
        branches = {(d.split("->")[0], d.split("->")[1], t) for d in self.directions for t in self.interior_switch_epochs}
        return sorted(branches, key=lambda b: self.run_name(f"{b[0]}->{b[1]}", b[2]))

    def seed_plan(self, seed: int) -> list[dict]:
        """What a per-seed job trains, in order: the prefixes (leaving their checkpoints), then
        the branches from them. Each entry is what one per-run job would be given."""
        plan = [dict(run=opt, spec=self.run_spec(seed, opt).to_dict(), keep=self.checkpoint_epochs(opt)) for opt in self.prefix_optimizers]
        for first, second, t in self.branch_runs():
            spec = self.run_spec(seed, first, second, t).to_dict()
            plan.append(dict(run=self.run_name(f"{first}->{second}", t), spec=spec, start_from=f"{first}/ckpt/epoch{t}.pt"))
        return plan

    def job_waves(self) -> int:
        """How many runs' time a per-seed job takes: its prefixes, then its branches, each
        ``parallel_runs`` at a time."""
        k = self.cfg.get("parallel_runs", 1)
        prefixes, branches = len(self.prefix_optimizers), len(self.branch_runs())
        return -(-prefixes // k) + -(-branches // k)

    def seed_specs(self, seed: int) -> dict[str, dict]:
        """Run folder → spec of every run of one seed: the run its files must record."""
        return {item["run"]: item["spec"] for item in self.seed_plan(seed)}

    def epochs_naive(self) -> int:
        """Epochs one full run per distinct schedule would train (pure runs counted once)."""
        schedules = len(self.prefix_optimizers) + len(self.directions) * len(self.interior_switch_epochs)
        return schedules * self.epochs * len(self.seeds)

    # -- checks ----------------------------------------------------------------------------
    def check(self) -> None:
        super().check()
        where, s = self.where, self.cfg
        if s.get("parallel_runs", 1) > 1 and s["granularity"] != "seed":
            raise ConfigError(f"config key '{where}.parallel_runs': runs share a job only with granularity: seed")
        for i, t in enumerate(s["switching"]["switch_epochs"]):
            if t > self.epochs:
                raise ConfigError(f"config key '{where}.switching.switch_epochs.{i}': {t} is past epochs={self.epochs}")
        for i, direction in enumerate(self.directions):
            first, second = direction.split("->")
            if first == second:
                raise ConfigError(f"config key '{where}.switching.directions.{i}': '{direction}' switches to itself")
            for opt in (first, second):
                if opt not in s["optimizers"]:
                    raise ConfigError(
                        f"config key '{where}.switching.directions.{i}': '{direction}' uses '{opt}', "
                        f"which has no settings under '{where}.optimizers'"
                    )
        if self.spectrum:
            self._check_spectrum()
        if (s.get("fast_path") or {}).get("compile") and any(self.optimizer_kind(o) == "eigen_sam" for o in s["optimizers"]):
            raise ConfigError(f"config key '{where}.fast_path.compile': torch.compile does not support the double backward of Eigen-SAM's HVPs")

    def subset_sizes(self) -> dict[str, int | None]:
        sizes = {"sharpness.n_samples": self.cfg["sharpness"].get("n_samples")}
        if self.spectrum:
            sizes["spectrum.n_samples"] = self.spectrum.get("n_samples")
        return sizes

    def optimizer_kind(self, label: str) -> str:
        return self.cfg["optimizers"][label].get("type", label)

    def _check_sweep_figure(self, fig_id: str, key: str) -> None:
        """What LS-F6, LS-F15 and ES-T3/T4 need of a study beyond its directions."""
        if fig_id == "LS-F6" and not self.cfg.get("robust_eval"):
            raise ConfigError(f"config key '{key}': LS-F6 needs 'robust_eval' in study '{self.name}' (robust test error per epoch)")
        if fig_id == "LS-F15" and not any(
            d.split("->")[1] in ("sgd", "gd") and self.optimizer_kind(d.split("->")[0]) in ("sam", "usam", "asam") for d in self.directions
        ):
            raise ConfigError(f"config key '{key}': LS-F15 needs directions '<SAM label>->sgd' (one per rho) in study '{self.name}'")
        if fig_id in ("ES-T3", "ES-T4") and not any(self.optimizer_kind(o) == "eigen_sam" for o in self.prefix_optimizers):
            raise ConfigError(f"config key '{key}': {fig_id} needs Eigen-SAM runs (type eigen_sam) in study '{self.name}'")

    def _check_spectrum(self) -> None:
        where, spectrum = f"{self.where}.spectrum", self.spectrum
        for i, opt in enumerate(spectrum["runs"]):
            if opt not in self.prefix_optimizers:
                raise ConfigError(f"config key '{where}.runs.{i}': '{opt}' is not an optimizer of the study's directions")
        for i, e in enumerate(spectrum["epochs"]):
            if e > self.epochs:
                raise ConfigError(f"config key '{where}.epochs.{i}': {e} is past epochs={self.epochs}")
        if spectrum["density"]["max"] <= spectrum["density"]["min"]:
            raise ConfigError(f"config key '{where}.density.max': must exceed density.min")

    def check_against(self, studies: dict) -> None:
        source = self.cfg.get("init_from")
        if source is None:
            return
        where = f"{self.where}.init_from"
        other = Study(source["study"], studies[source["study"]]) if source["study"] in studies else None
        if other is None or other.kind != "switching":
            raise ConfigError(f"config key '{where}.study': '{source['study']}' is not a switching study of this config")
        if source["run"] not in other.run_names:
            raise ConfigError(f"config key '{where}.run': study '{source['study']}' has no run '{source['run']}' (it has {', '.join(other.run_names)})")
        missing = sorted(set(self.seeds) - set(other.seeds))
        if missing:
            raise ConfigError(f"config key '{where}.study': '{source['study']}' has no seed {missing[0]}; fine-tuning starts each seed from its own pretrained model")

    def check_figure(self, fig_id: str, options: dict, key: str) -> None:
        for entry in entries(fig_id):
            if entry.needs_spectrum and not self.spectrum:
                raise ConfigError(f"config key '{key}': {fig_id} needs a 'spectrum' section in study '{self.name}'")
            direction = options.get("direction") or entry.default_direction
            if direction and direction not in self.directions:
                raise ConfigError(
                    f"config key 'figures.plots.{fig_id}': study '{self.name}' has no direction '{direction}' "
                    f"(it has {', '.join(self.directions)})"
                )
        self._check_sweep_figure(fig_id, key)
        epoch = options.get("epoch")
        if epoch is not None and epoch not in self.spectrum["epochs"]:
            raise ConfigError(f"config key 'figures.plots.{fig_id}.epoch': {epoch} is not a measured spectrum epoch")
        t = options.get("switch_epoch")
        if t is not None and t not in self.interior_switch_epochs:
            raise ConfigError(f"config key 'figures.plots.{fig_id}.switch_epoch': {t} is not an interior switch epoch of '{self.name}'")
        if fig_id in ("LS-F1", "LS-F6") and not self.interior_switch_epochs:
            raise ConfigError(f"config key '{key}': {fig_id} plots a switched run, and study '{self.name}' has no switch epoch between 0 and T")


def _fast_path(options: dict | None) -> dict | None:
    """The speed options that differ from the plain path (None when none do), so that a study
    that spells out the defaults plans the same runs as one that leaves them out."""
    chosen = {k: v for k, v in (options or {}).items() if FAST_PATH_DEFAULTS.get(k) != v}
    return chosen or None
