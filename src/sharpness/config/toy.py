"""The toy study: a problem with a known answer, simulated exactly in one job (no dataset, no
network). Each ``problem`` names a simulator of :mod:`sharpness.toys` and its own ``options``
(a branch of the schema per problem)."""

from __future__ import annotations

from ..catalog import entries
from .base import ConfigError, Study


class ToyStudy(Study, kind="toy"):
    @property
    def problem(self) -> str:
        return self.cfg["problem"]

    def check(self) -> None:
        o, key = self.cfg["options"], f"{self.where}.options"
        if self.problem == "quadratic_regression" and o["record_every"] > o["steps"]:
            raise ConfigError(f"config key '{key}.record_every': {o['record_every']} is past steps={o['steps']}")
        if self.problem == "tanh_valley" and o["switch_step"] > o["steps"]:
            raise ConfigError(f"config key '{key}.switch_step': {o['switch_step']} is past steps={o['steps']}")
        if self.problem == "sam_quadratic" and len(o["start"]) != len(o["eigenvalues"]):
            raise ConfigError(f"config key '{key}.start': needs one coordinate per eigenvalue ({len(o['eigenvalues'])})")
        if self.problem == "sam_quadratic" and o["lr"] * max(o["eigenvalues"]) >= 2:
            raise ConfigError(f"config key '{key}.lr': {o['lr']} is past the edge 2/lambda_1 of the quadratic")

    def check_figure(self, fig_id: str, options: dict, key: str) -> None:
        wanted = {e.problem for e in entries(fig_id)}
        if self.problem not in wanted:
            raise ConfigError(f"config key '{key}': {fig_id} draws problem {'/'.join(sorted(wanted))}; '{self.name}' simulates {self.problem}")
        o = self.cfg["options"]
        for name in ("lr", "rho"):
            if options.get(name) is not None and options[name] not in o.get(name, []):
                raise ConfigError(f"config key 'figures.plots.{fig_id}.{name}': {options[name]} is not in {self.where}.options.{name}")
        if options.get("start") is not None and options["start"] >= len(o.get("starts", [])):
            raise ConfigError(f"config key 'figures.plots.{fig_id}.start': {self.where}.options.starts has {len(o.get('starts', []))} entries")
