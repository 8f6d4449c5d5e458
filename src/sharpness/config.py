"""Validated, typed configuration: the schema check, the cross-field checks, and study objects.

``validate_config`` is called by the Snakefile at load time (before any job) and by tests and
scripts; errors name the offending key path, e.g. ``studies.digits.lr_schedule.lr``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jsonschema
import yaml

from .optim.schedule import Phase
from .train.spec import RunSpec

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value or key that the pipeline cannot run with."""


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _with_defaults(validator_cls):
    """A validator that also fills in schema defaults of absent properties."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": properties})


def _schema_error_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(f"'{_key_path([*error.absolute_path, k])}'" for k in extra)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown config key {keys}{hint}"
    return f"config key '{_key_path(error.absolute_path)}': {error.message}"


def validate_config(config: dict) -> dict:
    """Check ``config`` against the schema and the cross-field rules; fill defaults in place.
    Raises :class:`ConfigError` naming the first offending key."""
    schema = load_schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError(_schema_error_message(jsonschema.exceptions.best_match(errors)))
    for name, study in config["studies"].items():
        _check_switching_study(name, study)
    _check_figures(config)
    return config


def _check_switching_study(name: str, s: dict) -> None:
    where = f"studies.{name}"
    T = s["epochs"]
    for i, t in enumerate(s["switching"]["switch_epochs"]):
        if t > T:
            raise ConfigError(f"config key '{where}.switching.switch_epochs.{i}': {t} is past epochs={T}")
    for i, m in enumerate(s["lr_schedule"].get("milestones", [])):
        if m > T:
            raise ConfigError(f"config key '{where}.lr_schedule.milestones.{i}': {m} is past epochs={T}")
    if s["lr_schedule"]["name"] == "multistep":
        for key in ("milestones", "gamma"):
            if key not in s["lr_schedule"]:
                raise ConfigError(f"config key '{where}.lr_schedule.{key}' is required by a multistep schedule")
    for i, direction in enumerate(s["switching"]["directions"]):
        first, second = direction.split("->")
        if first == second:
            raise ConfigError(f"config key '{where}.switching.directions.{i}': '{direction}' switches to itself")
        for opt in (first, second):
            if opt not in s["optimizers"]:
                raise ConfigError(
                    f"config key '{where}.switching.directions.{i}': '{direction}' uses '{opt}', "
                    f"which has no settings under '{where}.optimizers'"
                )
    spectrum = s.get("spectrum")
    if spectrum:
        for i, opt in enumerate(spectrum["runs"]):
            if opt not in {o for d in s["switching"]["directions"] for o in d.split("->")}:
                raise ConfigError(f"config key '{where}.spectrum.runs.{i}': '{opt}' is not an optimizer of the study's directions")
        for i, e in enumerate(spectrum["epochs"]):
            if e > T:
                raise ConfigError(f"config key '{where}.spectrum.epochs.{i}': {e} is past epochs={T}")
        if spectrum["density"]["max"] <= spectrum["density"]["min"]:
            raise ConfigError(f"config key '{where}.spectrum.density.max': must exceed density.min")
    for opt, settings in s["optimizers"].items():
        if settings.get("nesterov") and not settings.get("momentum"):
            raise ConfigError(f"config key '{where}.optimizers.{opt}.nesterov': Nesterov needs momentum > 0")
    if s["device"] == "cpu" and s["dtype"] not in ("float32", "float64"):
        raise ConfigError(f"config key '{where}.dtype': {s['dtype']} is not supported on the CPU")


def _check_figures(config: dict) -> None:
    from .report.registry import entry  # the report knows what each figure needs

    studies = config["studies"]
    for fig_id, options in config["figures"]["plots"].items():
        names = options.get("studies", [options.get("study")])
        for i, name in enumerate(names):
            key = f"figures.plots.{fig_id}." + (f"studies.{i}" if "studies" in options else "study")
            if name not in studies:
                raise ConfigError(f"config key '{key}': no study named '{name}' (studies: {', '.join(studies)})")
            study = Study(name, studies[name])
            if entry(fig_id).needs_spectrum and not study.spectrum:
                raise ConfigError(f"config key '{key}': {fig_id} needs a 'spectrum' section in study '{name}'")
            direction = options.get("direction") or entry(fig_id).default_direction
            if direction and direction not in study.directions:
                raise ConfigError(
                    f"config key 'figures.plots.{fig_id}': study '{name}' has no direction '{direction}' "
                    f"(it has {', '.join(study.directions)})"
                )
        epoch = options.get("epoch")
        if epoch is not None and epoch not in Study(names[0], studies[names[0]]).spectrum["epochs"]:
            raise ConfigError(f"config key 'figures.plots.{fig_id}.epoch': {epoch} is not a measured spectrum epoch")
        t = options.get("switch_epoch")
        if t is not None and t not in Study(names[0], studies[names[0]]).interior_switch_epochs:
            raise ConfigError(f"config key 'figures.plots.{fig_id}.switch_epoch': {t} is not an interior switch epoch of '{names[0]}'")


def load_config(path: str | Path) -> dict:
    with open(path) as f:
        return validate_config(yaml.safe_load(f))


@dataclass(frozen=True)
class Study:
    """A switching study: one run per seed and schedule, schedules derived from the directions."""

    name: str
    cfg: dict

    @property
    def epochs(self) -> int:
        return self.cfg["epochs"]

    @property
    def seeds(self) -> list[int]:
        return list(self.cfg["seeds"])

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

    @property
    def dataset_key(self) -> str:
        """File name of the prepared dataset: the name plus any subset options."""
        d = self.cfg["dataset"]
        parts = [d["name"]]
        for key, tag in (("classes", "c"), ("n_train", "n"), ("n_test", "test")):
            if d.get(key):
                parts.append(f"{tag}{d[key]}")
        return "-".join(parts)

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
        )

    def epochs_naive(self) -> int:
        """Epochs one full run per distinct schedule would train (pure runs counted once)."""
        schedules = len(self.prefix_optimizers) + len(self.directions) * len(self.interior_switch_epochs)
        return schedules * self.epochs * len(self.seeds)
