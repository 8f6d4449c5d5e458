"""Validated, typed configuration: the schema check, the cross-field checks, and study plans.

``validate_config`` is called by the Snakefile at load time (before any job) and by tests and
scripts; errors name the offending key path, e.g. ``studies.digits.lr_schedule.lr``. Nothing
here imports torch, so a config is checked in well under a second.

A study's ``kind`` selects its plan (one module per kind: :mod:`.switching`, …) and its branch
of the schema; ``Study(name, cfg)`` returns the plan of the right kind.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from . import dynamics, landscape, switching, toy  # noqa: F401  (each registers its kind)
from .base import KINDS, ConfigError, Study
from .figures import check_figures
from .schema import SCHEMA_PATH, check_schema, load_schema

# results/<study>/ sits beside these: a study of one of these names would mix into them.
RESERVED_NAMES = ("data", "archive", "figures", "tables", "report.zip")


def validate_config(config: dict) -> dict:
    """Check ``config`` against the schema and the cross-field rules; fill defaults in place.
    Raises :class:`ConfigError` naming the first offending key."""
    check_schema(config)
    for name in config["studies"]:
        if name in RESERVED_NAMES:
            raise ConfigError(f"config key 'studies.{name}': '{name}' is a folder of the pipeline's own (results/{name}/); give the study another name")
    for name, cfg in config["studies"].items():
        study = Study(name, cfg)
        study.check()
        study.check_against(config["studies"])
    check_figures(config)
    return config


def load_config(path: str | Path) -> dict:
    check_duplicate_keys([path])
    with open(path) as f:
        return validate_config(yaml.safe_load(f))


class _DuplicateKey(ValueError):
    pass


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(f"key '{key}' appears twice in one mapping (lines {seen[key] + 1} and "
                                    f"{key_node.start_mark.line + 1}); YAML would silently keep the last")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def check_duplicate_keys(paths) -> None:
    """Raise :class:`ConfigError` if a config file repeats a key within one mapping."""
    for path in paths:
        with open(path) as f:
            try:
                yaml.load(f, Loader=_UniqueKeyLoader)
            except _DuplicateKey as error:
                raise ConfigError(f"{Path(path).name}: {error}") from None


__all__ = ["KINDS", "SCHEMA_PATH", "ConfigError", "Study", "check_duplicate_keys", "load_config", "load_schema", "validate_config"]
