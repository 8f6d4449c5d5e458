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


def validate_config(config: dict) -> dict:
    """Check ``config`` against the schema and the cross-field rules; fill defaults in place.
    Raises :class:`ConfigError` naming the first offending key."""
    check_schema(config)
    for name, cfg in config["studies"].items():
        study = Study(name, cfg)
        study.check()
        study.check_against(config["studies"])
    check_figures(config)
    return config


def load_config(path: str | Path) -> dict:
    with open(path) as f:
        return validate_config(yaml.safe_load(f))


__all__ = ["KINDS", "SCHEMA_PATH", "ConfigError", "Study", "load_config", "load_schema", "validate_config"]
