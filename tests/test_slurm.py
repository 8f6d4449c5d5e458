"""The SLURM profile on a real cluster: runs only where `sinfo` reaches a controller (CI starts
the single-node cluster of ../shared/slurm when it can; elsewhere this test is skipped)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import yaml
from conftest import copy_workflow, tiny_study


def _cluster_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0


# `make test` installs the executor plugin beside the venv, not into it (see the Makefile).
PLUGIN_DIR = os.environ.get("SHARPNESS_SLURM_PLUGIN", "")


def _plugin_found() -> bool:
    return bool(PLUGIN_DIR and Path(PLUGIN_DIR, "snakemake_executor_plugin_slurm").is_dir()) or (
        importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None
    )


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _cluster_up(), reason="no SLURM controller reachable"),
    pytest.mark.skipif(not _plugin_found(), reason="snakemake-executor-plugin-slurm not installed (pip install -e '.[slurm]', or make test)"),
]

TINY = {
    "studies": {"tiny": {**tiny_study(epochs=2, switch_epochs=[1], directions=["sgd->sam"]), "resources": {"runtime": 10, "mem_mb": 2000, "cpus": 1}}},
    "figures": {"formats": ["png"], "plots": {"LS-F3": {"studies": ["tiny"]}}},
}


def test_tiny_study_runs_through_the_slurm_profile(tmp_path):
    copy_workflow(tmp_path)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--configfile", "tiny.yaml",
           "--jobs", "2", "--slurm-init-seconds-before-status-checks", "2"]
    # PYTHONPATH reaches the jobs too: sbatch exports the environment.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (PLUGIN_DIR, os.environ.get("PYTHONPATH", "")) if p)}
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "submitted with SLURM jobid" in result.stdout + result.stderr
    run = xr.open_dataset(tmp_path / "results/tiny/seed0/sgd-sam/t1/run.nc")
    assert run.attrs["slurm_job_id"], "the training job did not run under slurmd"
    assert (tmp_path / "results/figures/LS-F3.png").exists()
