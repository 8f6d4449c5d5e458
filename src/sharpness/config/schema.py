"""The JSON schema of the config: validation that fills defaults and names the offending key."""

from __future__ import annotations

import copy
import math
import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from .base import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def _schema() -> dict:
    # libyaml's loader where PyYAML has it: the pure-Python one takes a third of a second here,
    # on every Snakefile parse.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SCHEMA_PATH.read_text(), Loader=loader)


def load_schema() -> dict:
    """A fresh copy of ``schemas/config.schema.yaml``."""
    return copy.deepcopy(_schema())


def key_path(path) -> str:
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


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(f"'{key_path([*error.absolute_path, k])}'" for k in extra)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown config key {keys}{hint}"
    return f"config key '{key_path(error.absolute_path)}': {error.message}"


# JSON Schema counts 2.0 as an integer; a run would crash mid-way on `epochs: 2.0`.
_STRICT_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool)
)
_Validator = _with_defaults(jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_STRICT_TYPES))

# How YAML 1.1 (PyYAML, and so Snakemake) writes numbers it reads as strings: 5e-4, 1E+6.
_YAML11_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def check_schema(config: dict) -> None:
    """Validate ``config`` against the schema, filling defaults in place; raise
    :class:`ConfigError` naming the first offending key."""
    check_finite(config)
    validator = _Validator(_schema())
    while True:
        errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
        if not errors or not _read_yaml11_numbers(config, errors):
            break
    if errors:
        raise ConfigError(_message(jsonschema.exceptions.best_match(errors)))


def _read_yaml11_numbers(config: dict, errors) -> bool:
    """Where a number belongs and YAML 1.1 left a string such as "5e-4", put the number; True
    if anything changed (then the config is validated again)."""
    changed = False
    for error in errors:
        expected = error.schema.get("type") if error.validator == "type" else None
        numeric = expected in ("number", "integer") or (isinstance(expected, list) and {"number", "integer"} & set(expected))
        if numeric and isinstance(error.instance, str) and _YAML11_FLOAT.match(error.instance.strip()) and error.absolute_path:
            *parents, last = error.absolute_path
            container = config
            for part in parents:
                container = container[part]
            container[last] = float(error.instance)
            changed = True
    return changed


def check_finite(value, path=()) -> None:
    """NaN or infinity anywhere is a mistake: `lr: .nan` would record every run as diverged,
    `divergence_loss: .nan` would switch the divergence check off."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{key_path(path)}': {value} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_finite(v, (*path, i))
