"""What the workflow reruns, and what it plans, on a copy of the repository: a comment or
docstring edit plans nothing, a statement change reruns what imports it, moving the project
folder reruns nothing; inputs only a user can supply are listed by a dry run and stop a real
run before any job; the SLURM guide's whole-catalogue dry run works on a fresh copy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow, tiny_study
from sharpness.imports import PACKAGE_DIR, import_closure
from sharpness.pipeline import step_module

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
NOTHING = "Nothing to be done"

pytestmark = pytest.mark.slow

CONFIG = {
    "studies": {
        "alpha": {**tiny_study(epochs=2, switch_epochs=[1], directions=["sgd->sam"]), "description": "a tiny switching study"},
        "eta": {"kind": "toy", "problem": "quadratic_regression", "seeds": [0], "description": "a tiny toy",
                "options": {"D": 4, "P": 6, "steps": 10, "record_every": 5, "lr": [0.05], "rho": [0.0]}},
    },
    "figures": {"formats": ["png"], "plots": {"FH-F7": {"study": "eta"}}},
}


def _snakemake(workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _planned_rules(workdir: Path) -> set[str]:
    out = _snakemake(workdir, "-n").stdout
    return set(re.findall(r"^(?:local)?rule (\w+):$", out, flags=re.M)) - {"all"}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("project") / "sharpness")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    _snakemake(workdir)
    return workdir


def test_a_real_run_prints_one_line_per_finished_job(workflow):
    result = _snakemake(workflow, "--forcerun", "toy_simulate")
    console = (result.stdout + result.stderr).splitlines()
    done = [re.match(r"\[\d\d:\d\d:\d\d\] (\d+)/(\d+) done: (.*)", line) for line in console]
    done = [m.groups() for m in done if m]
    assert [int(n) for n, _, _ in done] == list(range(1, len(done) + 1)) and int(done[-1][1]) == len(done)
    assert any("toy_simulate study=eta" in what for _, _, what in done)
    assert not [line for line in console if line.strip().startswith(("input:", "output:"))], "no job's file lists"


def test_a_comment_or_docstring_edit_plans_nothing(workflow):
    path = workflow / "src/sharpness/optim/sam.py"
    original = path.read_text()
    docstring = original.index('"""', original.index("\ndef ") if "\ndef " in original else 0)
    path.write_text("# a comment at the top\n" + original[: docstring + 3] + "An edited docstring. " + original[docstring + 3:])
    try:
        assert _planned_rules(workflow) == set()
    finally:
        path.write_text(original)


def test_a_statement_change_reruns_exactly_the_steps_that_import_it(workflow):
    path = workflow / "src/sharpness/optim/sam.py"
    original = path.read_text()
    path.write_text(original + "\nEDITED = True\n")
    try:
        planned = _planned_rules(workflow)
    finally:
        path.write_text(original)
    rules = ("prepare_dataset", "train_prefix", "train_branch", "final_sharpness", "collect", "toy_simulate", "archive")
    importers = {rule for rule in rules if PACKAGE_DIR / "optim/sam.py" in import_closure(step_module(rule))}
    assert {"train_prefix", "train_branch"} <= importers and "toy_simulate" not in importers
    downstream = {"collect", "archive", "checksums", "final_sharpness"}  # they read the retrained runs
    assert importers <= planned <= importers | downstream, planned
    assert _planned_rules(workflow) == set(), "the edit undone: its digest is the old one again"


def test_moving_the_project_folder_reruns_nothing(workflow, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.move(workflow, moved)
    try:
        assert NOTHING in _snakemake(moved, "-n").stdout
    finally:
        shutil.move(moved, workflow)


def test_inputs_the_user_supplies_are_listed_by_a_dry_run_and_stop_a_real_run(workflow, tmp_path):
    path = tmp_path / "c10.yaml"
    path.write_text(yaml.safe_dump({"studies": {"c10": {**tiny_study(), "dataset": {"name": "cifar10", "download": False}}}}))
    dry = _snakemake(workflow, "-n", "--configfile", str(path))
    assert "Inputs to provide" in dry.stderr and "studies.c10.dataset.download" in dry.stderr and "cifar-10-batches-py" in dry.stderr
    real = subprocess.run([*SNAKEMAKE, "--configfile", str(path)], cwd=workflow, capture_output=True, text=True, timeout=300)
    assert real.returncode != 0 and "studies.c10.dataset.download" in real.stdout + real.stderr
    assert not (workflow / "results/c10").exists() and not (workflow / "results/data/c10").exists(), "stopped before any job"


def test_the_slurm_guides_catalogue_dry_run_works_as_written_on_a_fresh_copy(tmp_path):
    """`snakemake -n --configfile configs/paper/*.yaml`, with no pretrained weights and no data."""
    guide = (Path(__file__).resolve().parents[1] / "docs/slurm.md").read_text()
    assert "snakemake -n --configfile configs/paper/*.yaml" in guide
    workdir = copy_workflow(tmp_path / "clone", extra=("configs", "config.yaml"))
    configs = sorted(str(p.relative_to(workdir)) for p in (workdir / "configs/paper").glob("*.yaml"))
    result = _snakemake(workdir, "-n", "--configfile", *configs, timeout=240)
    assert "pretrained/vit_b_16-c867db91.pth" in result.stderr and "Inputs to provide" in result.stderr
    assert re.search(r"^total\s+\d+$", result.stdout, flags=re.M)
