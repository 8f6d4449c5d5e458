"""The configs we ship share one namespace of study names and figure files: running one never
retrains or redraws what another one made (tests/test_workflow.py runs two to check)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER = sorted((ROOT / "configs/paper").glob("*.yaml"))
SHIPPED = [ROOT / "config.yaml", *PAPER]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _definitions(section) -> dict[str, dict[str, str]]:
    """name -> {config file: its definition as canonical JSON}, over every shipped config."""
    found: dict[str, dict[str, str]] = {}
    for path in SHIPPED:
        for name, body in section(_load(path)).items():
            found.setdefault(name, {})[path.name] = json.dumps(body, sort_keys=True)
    return found


def test_one_study_name_means_one_set_of_settings_in_every_config():
    clashes = {name: sorted(defs) for name, defs in _definitions(lambda c: c["studies"]).items() if len(set(defs.values())) > 1}
    assert not clashes, f"defined differently in several configs: {clashes}"


def test_studies_shared_by_paper_figures_are_one_study():
    """LS-F3/F4/F5 read the same WRN studies, LS-F7/F9 the same ResNet-20 and VGG-16 ones, each
    with both directions and the union of the figures' switch epochs."""
    defs = _definitions(lambda c: c["studies"])
    for name, files in {"wrn16-8-cifar10": {"LS-F3.yaml", "LS-F4.yaml", "LS-F5.yaml"}, "wrn28-10-cifar100": {"LS-F3.yaml", "LS-F5.yaml"},
                        "resnet20-cifar10": {"LS-F7.yaml", "LS-F9.yaml"}, "vgg16-cifar10": {"LS-F7.yaml", "LS-F9.yaml"}}.items():
        assert set(defs[name]) == files
        study = json.loads(next(iter(defs[name].values())))
        assert study["switching"]["directions"] == ["sgd->sam", "sam->sgd"]


def test_paper_figures_live_in_their_own_namespace_each_id_drawn_once():
    drawn: dict[str, str] = {}
    for path in PAPER:
        figures = _load(path)["figures"]
        assert figures.get("namespace") == "paper", path.name
        for fig_id in figures["plots"]:
            assert fig_id not in drawn, f"{fig_id} in {drawn.get(fig_id)} and {path.name}"
            drawn[fig_id] = path.name
    assert _load(ROOT / "config.yaml")["figures"].get("namespace", "") == "", "the default config writes results/figures/<ID>"


def test_paper_configs_cover_every_experiment_id():
    from sharpness.catalog import FIGURES, TABLES

    drawn = {fig_id for path in PAPER for fig_id in _load(path)["figures"]["plots"]}
    assert not (set(FIGURES) | set(TABLES)) - drawn, sorted((set(FIGURES) | set(TABLES)) - drawn)
