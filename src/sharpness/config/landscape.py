"""The landscape study: analyses of a switching study's final models (late-sam Figs. 4b, 4c, 14
and 16). It trains nothing of its own but the escape runs, and reads the source study's outputs:

- ``interpolation`` — the loss along θ_λ = (1 − λ)θ_{first→second, t} + λθ_first and its
  second difference (LS-F4c), for every seed;
- ``plane`` — the loss on a plane through θ_{first→second, t} spanned by δ = θ_first −
  θ_{first→second, t} and filter-normalized random directions (LS-F14), for the first seed;
- ``escape`` — the loss after switching a converged pure ``first`` run (the first seed's) to
  ``escape.optimizer``, over many trials of the minibatch order (LS-F4b, LS-F16).
"""

from __future__ import annotations

from .base import ConfigError, Study
from .switching import SwitchingStudy


class LandscapeStudy(Study, kind="landscape"):
    def source(self, studies: dict) -> SwitchingStudy:
        return Study(self.cfg["source"], studies[self.cfg["source"]])

    def switch_epoch(self, source: SwitchingStudy) -> int:
        return self.cfg["switch_epoch"] or max(source.interior_switch_epochs)

    @property
    def pair(self) -> tuple[str, str]:
        first, second = self.cfg["direction"].split("->")
        return first, second

    def runs(self, source: SwitchingStudy) -> tuple[str, str]:
        """Folders (inside a seed's folder) of θ_{first→second, t} and θ_first."""
        return source.run_name(self.cfg["direction"], self.switch_epoch(source)), self.pair[0]

    def inputs(self, studies: dict) -> list[str]:
        """The source's final models (and run files) this study reads, every seed."""
        source = self.source(studies)
        return [f"results/{source.name}/seed{seed}/{run}/{name}"
                for seed in source.seeds for run in self.runs(source) for name in ("final.pt", "run.nc")]

    def dataset_file(self, studies: dict) -> str:
        return f"results/data/{self.source(studies).dataset_key}.pt"

    def analysis(self, studies: dict) -> dict:
        """What the analysis step needs besides the config: where the runs are and which."""
        source = self.source(studies)
        switched, pure = self.runs(source)
        specs = {str(seed): {run: source.seed_specs(seed)[run] for run in (switched, pure)} for seed in source.seeds}
        return dict(source_dir=f"results/{source.name}", seeds=source.seeds, switched_run=switched, pure_run=pure,
                    escape_settings=source.cfg["optimizers"][self.cfg["escape"]["optimizer"]], specs=specs)

    def check(self) -> None:
        i = self.cfg["interpolation"]
        ratio = i["h"] / i["step"]
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ConfigError(f"config key '{self.where}.interpolation.h': {i['h']} must be a multiple of interpolation.step={i['step']}")
        if i["max"] <= i["min"]:
            raise ConfigError(f"config key '{self.where}.interpolation.max': must exceed interpolation.min")

    def check_against(self, studies: dict) -> None:
        """Cross-study rules: the source exists, is a switching study, has the direction and epoch."""
        name, key = self.cfg["source"], f"{self.where}.source"
        if name not in studies:
            raise ConfigError(f"config key '{key}': no study named '{name}' (studies: {', '.join(studies)})")
        source = Study(name, studies[name])
        if source.kind != "switching":
            raise ConfigError(f"config key '{key}': '{name}' is a {source.kind} study; the landscape reads a switching study")
        if self.cfg["direction"] not in source.directions:
            raise ConfigError(f"config key '{self.where}.direction': '{name}' has no direction '{self.cfg['direction']}'")
        t = self.cfg["switch_epoch"]
        if t is not None and t not in source.interior_switch_epochs:
            raise ConfigError(f"config key '{self.where}.switch_epoch': {t} is not an interior switch epoch of '{name}'")
        if not source.interior_switch_epochs:
            raise ConfigError(f"config key '{key}': '{name}' has no interior switch epoch to compare")
        if self.cfg["escape"]["optimizer"] not in source.cfg["optimizers"]:
            raise ConfigError(f"config key '{self.where}.escape.optimizer': '{name}' has no settings for it")
