"""Config validation: malformed configs are rejected before any job, naming the key."""

import copy
from pathlib import Path

import pytest
import yaml

from sharpness.config import ConfigError, Study, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _set(cfg, dotted, value):
    *parents, last = dotted.split(".")
    node = cfg
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()
S = "studies.digits-switch"

# (key to change, new value, text the error must contain)
MALFORMED = [
    ("data_rot", "data", "data_rot"),
    (f"{S}.epoch", 10, f"{S}.epoch"),
    (f"{S}.lr_schedule.lr", 0, f"{S}.lr_schedule.lr"),
    (f"{S}.lr_schedule.lr", -0.1, f"{S}.lr_schedule.lr"),
    (f"{S}.lr_schedule.name", "exponential", f"{S}.lr_schedule.name"),
    (f"{S}.optimizers.sam.rho", -0.05, f"{S}.optimizers.sam.rho"),
    (f"{S}.optimizers.sgd.momentum", 1.0, f"{S}.optimizers.sgd.momentum"),
    (f"{S}.optimizers.sgd.weight_decay", "5e-4x", f"{S}.optimizers.sgd.weight_decay"),
    (f"{S}.epochs", 20.0, f"{S}.epochs"),  # would crash mid-run with a TypeError
    (f"{S}.lr_schedule.lr", float("nan"), f"{S}.lr_schedule.lr"),
    (f"{S}.divergence_loss", float("nan"), f"{S}.divergence_loss"),
    (f"{S}.optimizers.sam.rho", float("inf"), f"{S}.optimizers.sam.rho"),
    (f"{S}.seeds", [2**64], f"{S}.seeds.0"),
    (f"{S}.lr_schedule", {"name": "cosine", "lr": 0.1, "min_lr": 0.2}, f"{S}.lr_schedule.min_lr"),
    (f"{S}.sharpness.n_samples", 5000, f"{S}.sharpness.n_samples"),
    (f"{S}.spectrum.n_samples", 1500, f"{S}.spectrum.n_samples"),
    (f"{S}.dataset.n_train", 2000, f"{S}.dataset.n_train"),
    ("studies.eos-mlp.measure.n_samples", 1500, "studies.eos-mlp.measure.n_samples"),
    ("figures.plots.LS-F1.study", "digits-eigen", "figures.plots.LS-F1"),  # no switch epoch between 0 and T
    ("figures.namespace", "../elsewhere", "figures.namespace"),
    (f"{S}.optimizers.adamw", {"lr": 1}, f"{S}.optimizers.adamw"),
    (f"{S}.optimizers.sam.rho", _DELETE, "rho"),
    (f"{S}.epochs", 0, f"{S}.epochs"),
    (f"{S}.epochs", 2.5, f"{S}.epochs"),
    (f"{S}.batch_size", 0, f"{S}.batch_size"),
    (f"{S}.seeds", [], f"{S}.seeds"),
    (f"{S}.seeds", [0, 0], f"{S}.seeds"),
    (f"{S}.model.name", "transformer9000", f"{S}.model.name"),
    (f"{S}.model.widht", 64, f"{S}.model.widht"),
    (f"{S}.dataset.name", "imagenet", f"{S}.dataset.name"),
    (f"{S}.dataset.classes", 1, f"{S}.dataset.classes"),
    (f"{S}.loss", "hinge", f"{S}.loss"),
    (f"{S}.device", "tpu", f"{S}.device"),
    (f"{S}.switching.directions", ["sgd=>sam"], f"{S}.switching.directions.0"),
    (f"{S}.switching.directions", ["sgd->sgd"], "switches to itself"),
    (f"{S}.switching.directions", ["sgd->usam"], "usam"),
    (f"{S}.switching.switch_epochs", [10, 99], f"{S}.switching.switch_epochs.1"),
    (f"{S}.switching.momentum_policy", "keep", f"{S}.switching.momentum_policy"),
    (f"{S}.sharpness.k", 0, f"{S}.sharpness.k"),
    (f"{S}.sharpness.bn_mode", "frozen", f"{S}.sharpness.bn_mode"),
    (f"{S}.augmentation.cutout", -1, f"{S}.augmentation.cutout"),
    (f"{S}.lr_schedule", {"name": "multistep", "lr": 0.1, "milestones": [20]}, f"{S}.lr_schedule.gamma"),
    (f"{S}.lr_schedule", {"name": "multistep", "lr": 0.1, "milestones": [200], "gamma": 0.1}, f"{S}.lr_schedule.milestones.0"),
    (f"{S}.optimizers.sgd", {"nesterov": True}, f"{S}.optimizers.sgd.nesterov"),
    ("figures.dpi", 5, "figures.dpi"),
    ("figures.formats", ["jpg"], "figures.formats.0"),
    ("figures.plots.LS-F99", {"studies": []}, "figures.plots.LS-F99"),
    ("figures.plots.LS-F3.studies", ["nope"], "figures.plots.LS-F3.studies.0"),
    ("figures.plots.LS-F1.switch_epoch", 11, "figures.plots.LS-F1.switch_epoch"),
    ("studies", {}, "studies"),
    ("studies.Bad Name", {}, "Bad Name"),
]


@pytest.mark.parametrize("name", ["data", "archive", "figures", "tables"])
def test_study_names_of_the_pipelines_own_folders_are_rejected(config, name):
    config["studies"][name] = config["studies"].pop("br-quadratic")
    config["figures"]["plots"]["BR-F1"]["study"] = name
    with pytest.raises(ConfigError, match=f"studies.{name}"):
        validate_config(config)


def test_yaml_1_1_exponent_numbers_are_read_as_numbers(config):
    """PyYAML (YAML 1.1) reads 5e-4 as the string "5e-4": where a number belongs it is one."""
    config["studies"]["digits-switch"]["optimizers"]["sgd"]["weight_decay"] = "5e-4"
    config["studies"]["digits-switch"]["divergence_loss"] = "1E+6"
    config["studies"]["digits-switch"]["description"] = "5e-4"
    validate_config(config)
    assert config["studies"]["digits-switch"]["optimizers"]["sgd"]["weight_decay"] == 5e-4
    assert config["studies"]["digits-switch"]["divergence_loss"] == 1e6
    assert config["studies"]["digits-switch"]["description"] == "5e-4", "a string where a string belongs stays one"


def test_a_key_given_twice_is_rejected(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text((ROOT / "config.yaml").read_text().replace("    epochs: 30\n", "    epochs: 30\n    epochs: 3\n", 1))
    with pytest.raises(ConfigError, match="'epochs' appears twice"):
        load_config(path)


@pytest.mark.parametrize("key, value, expected", MALFORMED, ids=[f"{k}={'<deleted>' if v is _DELETE else repr(v)}" for k, v, _ in MALFORMED])
def test_malformed_config_is_rejected_naming_the_key(config, key, value, expected):
    bad = copy.deepcopy(config)
    _set(bad, key, value)
    with pytest.raises(ConfigError) as info:
        validate_config(bad)
    assert expected in str(info.value)


def test_default_config_is_valid_and_gets_defaults(config):
    validated = validate_config(config)
    study = validated["studies"]["digits-switch"]
    assert study["checkpoint_every"] == 1 and study["resources"] == {}
    assert study["sharpness"]["seed"] == 0


@pytest.mark.parametrize("path", sorted((ROOT / "configs").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without ES-T2's pretrained weights: a file to supply, not an error (preflight)
    load_config(path)


def test_study_derives_runs_and_accounting(config):
    study = Study("digits-switch", validate_config(config)["studies"]["digits-switch"])
    T = study.epochs
    assert study.switch_epochs[0] == 0 and study.switch_epochs[-1] == T
    assert study.prefix_optimizers == ["sam", "sgd"]
    assert study.checkpoint_epochs("sgd") == study.interior_switch_epochs
    spec = study.run_spec(0, "sgd", "sam", 10)
    assert [(p.optimizer, p.until_epoch) for p in spec.phases] == [("sgd", 10), ("sam", T)]
    n = len(study.interior_switch_epochs)
    assert study.epochs_naive() == (2 + 2 * n) * T * len(study.seeds)


