"""Study kinds: the schema's branch per kind, and names declared once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from sharpness.catalog import FIGURES, TABLES
from sharpness.config import KINDS, Study, load_schema, validate_config

ROOT = Path(__file__).resolve().parents[1]


def test_names_are_declared_once():
    """The schema's enums and figure ids are those of the registries."""
    from sharpness.data import DATASETS
    from sharpness.models import MODEL_NAMES

    defs = load_schema()["$defs"]
    assert set(defs["study"]["properties"]["kind"]["enum"]) == set(KINDS)
    assert set(defs["figures"]["properties"]["plots"]["properties"]) == set(FIGURES) | set(TABLES)
    assert set(defs["dataset"]["properties"]["name"]["enum"]) == set(DATASETS)
    assert set(defs["model"]["properties"]["name"]["enum"]) == set(MODEL_NAMES)


def test_validating_a_config_does_not_import_torch():
    code = ("import sys, yaml; sys.path.insert(0, 'src'); from sharpness.config import load_config; "
            "load_config('config.yaml'); assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_study_returns_the_plan_of_its_kind():
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    study = Study("digits-switch", config["studies"]["digits-switch"])
    assert type(study).__name__ == "SwitchingStudy" and study.kind == "switching"
