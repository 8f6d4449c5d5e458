"""Study kinds: the schema's branch per kind, the dynamics plan, and names declared once."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sharpness.catalog import FIGURES, TABLES
from sharpness.config import KINDS, ConfigError, Study, load_schema, validate_config
from sharpness.config.dynamics import WIDTH_MODELS

ROOT = Path(__file__).resolve().parents[1]

DYNAMICS = {
    "kind": "dynamics",
    "dataset": {"name": "digits", "n_train": 100},
    "model": {"name": "mlp", "width": 8, "depth": 1},
    "loss": "mse",
    "seeds": [0, 1],
    "steps": 20,
    "batch_size": "full",
    "grid": {"lr": [0.1, 0.2], "rho": [0.0, 0.05]},
    "schedules": ["sam", "gd->sam@10"],
}


def _config(**study):
    return {"studies": {"dyn": {**copy.deepcopy(DYNAMICS), **study}}, "figures": {"plots": {}}}


def test_names_are_declared_once():
    """The schema's enums and figure ids are those of the registries."""
    from sharpness.data import DATASETS
    from sharpness.models import MODEL_NAMES, model_options

    schema = load_schema()
    defs = schema["$defs"]
    assert set(defs["study"]["properties"]["kind"]["enum"]) == set(KINDS)
    assert set(defs["figures"]["properties"]["plots"]["properties"]) == set(FIGURES) | set(TABLES)
    assert set(defs["dataset"]["properties"]["name"]["enum"]) == set(DATASETS)
    assert set(defs["model"]["properties"]["name"]["enum"]) == set(MODEL_NAMES)
    assert set(WIDTH_MODELS) == {name for name in MODEL_NAMES if "width" in model_options(name)}
    from sharpness.toys import PROBLEMS

    assert set(defs["toy_study"]["properties"]["problem"]["enum"]) == set(PROBLEMS)


def test_validating_a_config_does_not_import_torch():
    code = ("import sys, yaml; sys.path.insert(0, 'src'); from sharpness.config import load_config; "
            "load_config('config.yaml'); assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_study_returns_the_plan_of_its_kind():
    cfg = validate_config(_config())["studies"]["dyn"]
    assert type(Study("dyn", cfg)).__name__ == "DynamicsStudy" and Study("dyn", cfg).kind == "dynamics"


def test_dynamics_runs_are_resolved_and_shared():
    """SAM at ρ = 0 is GD; GD does not depend on ρ; a switch to SAM at ρ = 0 is no switch."""
    study = Study("dyn", validate_config(_config())["studies"]["dyn"])
    assert study.schedules == ["sam", "gd->sam@10", "gd"]  # the pure GD prefix is added
    assert list(study.runs) == ["lr0.1/gd", "lr0.1/rho0.05/sam", "lr0.2/gd", "lr0.2/rho0.05/sam",
                                "lr0.1/rho0.05/gd-sam/t10", "lr0.2/rho0.05/gd-sam/t10"]
    cells = {(schedule, point["lr"], point["rho"]): run for seed, schedule, point, run in study.store_runs() if seed == 0}
    assert cells["sam", 0.1, 0.0] == cells["gd", 0.1, 0.05] == cells["gd->sam@10", 0.1, 0.0] == "lr0.1/gd"
    assert study.checkpoint_steps("lr0.1/gd") == [10] and study.checkpoint_steps("lr0.1/rho0.05/sam") == []
    spec = study.run_spec(1, "lr0.2/rho0.05/gd-sam/t10")
    assert [(p.optimizer, p.until_step, p.settings) for p in spec.phases] == [("gd", 10, {}), ("sam", 20, {"rho": 0.05})]
    assert spec.seed == 1 and spec.lr_schedule == {"name": "constant", "lr": 0.2} and spec.batch_size is None
    assert study.runs["lr0.2/rho0.05/gd-sam/t10"].prefix.name == "lr0.2/gd"


def test_minibatch_sam_at_rho_zero_is_sgd():
    study = Study("dyn", validate_config(_config(batch_size=32, schedules=["sam"]))["studies"]["dyn"])
    assert set(study.runs) == {"lr0.1/sgd", "lr0.1/rho0.05/sam", "lr0.2/sgd", "lr0.2/rho0.05/sam"}
    assert study.run_spec(0, "lr0.1/sgd").batch_size == 32


def test_width_grid_names_runs_and_sets_the_model():
    study = Study("dyn", validate_config(_config(grid={"lr": [0.1], "width": [4, 16]}, schedules=["gd"]))["studies"]["dyn"])
    assert set(study.runs) == {"lr0.1-w4/gd", "lr0.1-w16/gd"}
    assert study.run_spec(0, "lr0.1-w16/gd").model["width"] == 16


S = "studies.dyn"
MALFORMED = [
    (dict(batch_size=0), f"{S}.batch_size"),
    (dict(steps=2.5), f"{S}.steps"),
    (dict(grid={"rho": [0.1]}), "lr"),
    (dict(grid={"lr": [0.1], "rho": [-1.0]}), f"{S}.grid.rho.0"),
    (dict(grid={"lr": [0.1], "momentum": [0.9]}), f"{S}.grid.momentum"),
    (dict(schedules=["sam->"]), f"{S}.schedules.0"),
    (dict(schedules=["gd->gd@5"]), "switches to itself"),
    (dict(schedules=["gd->sam@20"]), f"{S}.schedules.0"),
    (dict(schedules=["sgd"]), "'sgd' needs minibatches"),
    (dict(batch_size=16, schedules=["gd"]), "'gd' is full-batch"),
    (dict(measure_every=50), f"{S}.measure_every"),
    (dict(measure={"k": 0}), f"{S}.measure.k"),
    (dict(measure={"ntk_k": 1}, loss="cross_entropy"), f"{S}.measure.ntk_k"),
    (dict(model={"name": "cnn", "channels": [4]}, grid={"lr": [0.1], "width": [8]}), f"{S}.grid.width"),
    (dict(lr_schedule={"name": "multistep", "milestones": [50], "gamma": 0.1}), f"{S}.lr_schedule.milestones.0"),
    (dict(optimizers={"sam": {"rho": 0.1}}), f"{S}.optimizers.sam.rho"),
    (dict(epochs=10), f"{S}.epochs"),
    (dict(kind="dynamic"), f"{S}.kind"),
]


@pytest.mark.parametrize("change, expected", MALFORMED, ids=[str(c) for c, _ in MALFORMED])
def test_malformed_dynamics_config_is_rejected_naming_the_key(change, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(_config(**change))
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "plot, expected",
    [
        ({"LB-F2": {"study": "dyn", "lr": [0.3]}}, "figures.plots.LB-F2.lr"),
        ({"LB-F3": {"study": "dyn", "rho": 0.7}}, "figures.plots.LB-F3.rho"),
        ({"LS-F10": {"study": "dyn", "schedule": "usam"}}, "figures.plots.LS-F10.schedule"),
        ({"LS-F3": {"studies": ["dyn"]}}, "figures.plots.LS-F3.studies.0"),  # a switching figure
        ({"LB-F2": {"study": "other"}}, "no study named 'other'"),
    ],
)
def test_figure_options_are_checked_against_the_study(plot, expected):
    config = _config()
    config["figures"]["plots"] = plot
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert expected in str(info.value)


def test_default_config_has_every_kind():
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert {Study(n, c).kind for n, c in config["studies"].items()} == set(KINDS)


TOY_AND_LANDSCAPE_MALFORMED = [
    ({"t": {"kind": "toy", "problem": "ravine", "options": {"lr": -1}}}, "studies.t.options.lr"),
    ({"t": {"kind": "toy", "problem": "ravine", "options": {"steps_": 3}}}, "studies.t.options.steps_"),
    ({"t": {"kind": "toy", "problem": "spiral"}}, "studies.t.problem"),
    ({"t": {"kind": "toy", "problem": "sam_quadratic", "options": {"lr": 2.5}}}, "studies.t.options.lr"),
    ({"t": {"kind": "toy", "problem": "tanh_valley", "options": {"switch_step": 700}}}, "studies.t.options.switch_step"),
    ({"l": {"kind": "landscape", "source": "nope"}}, "studies.l.source"),
    ({"l": {"kind": "landscape", "source": "d"}, "d": DYNAMICS}, "studies.l.source"),
    ({"l": {"kind": "landscape", "source": "s", "switch_epoch": 7}, "s": "SWITCHING"}, "studies.l.switch_epoch"),
    ({"l": {"kind": "landscape", "source": "s", "interpolation": {"h": 0.07}}, "s": "SWITCHING"}, "studies.l.interpolation.h"),
    ({"l": {"kind": "landscape", "source": "s", "escape": {"optimizer": "usam"}}, "s": "SWITCHING"}, "studies.l.escape.optimizer"),
]


@pytest.mark.parametrize("studies, expected", TOY_AND_LANDSCAPE_MALFORMED, ids=[e for _, e in TOY_AND_LANDSCAPE_MALFORMED])
def test_malformed_toy_and_landscape_configs_are_rejected(studies, expected):
    from conftest import tiny_study

    studies = {k: (tiny_study() if v == "SWITCHING" else v) for k, v in copy.deepcopy(studies).items()}
    with pytest.raises(ConfigError) as info:
        validate_config({"studies": studies, "figures": {"plots": {}}})
    assert expected in str(info.value)
