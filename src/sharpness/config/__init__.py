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
from ..atomic import longest_temporary_name
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
        _check_name_length(name)
    for name, cfg in config["studies"].items():
        study = Study(name, cfg)
        study.check()
        study.check_against(config["studies"])
    check_figures(config)
    return config


# The longest name of a file named after a study: its archive (results/archive/<study>.tar.gz),
# written through a temporary file beside it. File systems allow 255 bytes per name.
NAME_MAX = 255


def _check_name_length(name: str) -> None:
    longest = longest_temporary_name(f"{name}.tar.gz")
    if longest > NAME_MAX:
        raise ConfigError(f"config key 'studies.{name[:40]}…': a study name of {len(name.encode())} bytes; the files named "
                          f"after it (its archive's temporary file: {longest} bytes) must fit the file system's "
                          f"{NAME_MAX} bytes per name: at most {len(name.encode()) - (longest - NAME_MAX)} bytes")


# Keys that make Snakemake evaluate the file as a YTE template (Python) while it loads it.
YTE_KEYS = ("__use_yte__", "__definitions__", "__variables__")


def load_config(path: str | Path) -> dict:
    """Read a config file as plain data, refusing one that is a program: a YAML tag that builds
    Python objects (``!!python/…``), or YTE keys, which Snakemake evaluates (even in a dry run)
    before any check of ours could run. Then validate it."""
    try:
        check_duplicate_keys([path])
        with open(path) as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not plain YAML data, refused (a tag such as !!python/… makes it a program): "
                          f"{str(error).splitlines()[0]}") from None
    if isinstance(config, dict) and (found := [key for key in YTE_KEYS if key in config]):
        raise ConfigError(f"{path}: key {found[0]!r} makes Snakemake evaluate Python (YTE) in the config while "
                          "loading it; refused (run only configs that are plain data)")
    return validate_config(config)


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
