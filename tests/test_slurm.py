"""The SLURM profile on a real cluster: runs only where `sinfo` reaches a controller (CI starts
the single-node cluster of ../shared/slurm when it can; elsewhere this test is skipped)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
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

RESOURCES = {"runtime": 10, "mem_mb": 2000, "cpus": 1}
TINY = {
    "studies": {"tiny": {**tiny_study(epochs=2, switch_epochs=[1]), "resources": RESOURCES}},
    "figures": {"formats": ["png"], "plots": {"LS-F3": {"studies": ["tiny"]}}},
}
# A training job long enough (about 30 s on two cores) to be cancelled while it runs.
SLOW_STUDY = tiny_study(epochs=1500, switch_epochs=[1], directions=["sgd->sam"])
SLOW_STUDY["dataset"]["n_train"] = 1000
SLOW_STUDY["model"]["width"] = 128
SLOW = {"studies": {"slow": {**SLOW_STUDY, "resources": RESOURCES}}}
SLOW_TARGET = "results/slow/seed0/sgd/run.nc"
SLOW_STATE = "results/slow/.state/seed0/sgd"
SLOW_LOG = "logs/slow/seed0/sgd/train.log"


def _snakemake(workdir: Path, config: dict, *targets: str) -> list[str]:
    (workdir / "config.test.yaml").write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--configfile", "config.test.yaml",
            "--jobs", "2", "--slurm-init-seconds-before-status-checks", "2", *targets]


# PYTHONPATH reaches the jobs too: sbatch exports the environment.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (PLUGIN_DIR, os.environ.get("PYTHONPATH", "")) if p)}


def test_tiny_study_runs_through_the_slurm_profile_and_ends_with_exit_0(tmp_path):
    copy_workflow(tmp_path)
    result = subprocess.run(_snakemake(tmp_path, TINY), cwd=tmp_path, capture_output=True, text=True, timeout=300, env=ENV)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-8000:]
    done = re.findall(r"(\d+)/(\d+) done", log)
    assert done and done[-1][0] == done[-1][1], log[-4000:]  # every job, not just an exit code
    assert "Error in rule" not in log
    assert "submitted with SLURM jobid" in log
    run = xr.open_dataset(tmp_path / "results/tiny/seed0/sgd-sam/t1/run.nc")
    assert run.attrs["slurm_job_id"], "the training job did not run under slurmd"
    assert (tmp_path / "results/figures/LS-F3.png").exists()


def _running_job(rule: str) -> str | None:
    """The id of a running SLURM job of ``rule`` (the plugin puts the rule in the job's comment)."""
    jobs = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i|%k"], capture_output=True, text=True).stdout
    pairs = (line.split("|", 1) for line in jobs.splitlines() if "|" in line)
    return next((job for job, comment in pairs if comment.startswith(f"rule_{rule}_")), None)


def _newest_state_epoch(state_dir: Path) -> int:
    epochs = [int(m.group(1)) for p in state_dir.glob("epoch*.pt") if (m := re.fullmatch(r"epoch(\d+)\.pt", p.name))]
    return max(epochs, default=0)


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _interrupt(workflow: subprocess.Popen) -> None:
    """End a workflow still running as Ctrl-C does (SIGTERM waits for its running jobs), which
    makes the plugin cancel its jobs; kill it if that takes a minute."""
    if workflow.poll() is None:
        workflow.send_signal(signal.SIGINT)
        try:
            workflow.wait(60)
        except subprocess.TimeoutExpired:
            workflow.kill()
            workflow.wait()


def test_a_cancelled_job_fails_the_run_promptly_and_a_rerun_resumes_it(tmp_path):
    copy_workflow(tmp_path)
    log_path = tmp_path / "cancelled-run.log"
    with log_path.open("w") as log_file, subprocess.Popen(_snakemake(tmp_path, SLOW, SLOW_TARGET), cwd=tmp_path,
                                                          stdout=log_file, stderr=subprocess.STDOUT, env=ENV) as workflow:
        try:
            job = _wait_for(lambda: _running_job("train_prefix"), 120, "the training job to run")
            _wait_for(lambda: _newest_state_epoch(tmp_path / SLOW_STATE) >= 100, 120, "a resumable checkpoint")
            subprocess.run(["scancel", job], check=True)
            workflow.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the workflow still ran 120 s after `scancel {job}`:\n{log_path.read_text()[-4000:]}")
        finally:
            _interrupt(workflow)
    log = log_path.read_text()
    assert workflow.returncode != 0, log[-4000:]
    assert f"SLURM-job '{job}' failed" in log and "CANCELLED" in log, log[-4000:]
    assert _newest_state_epoch(tmp_path / SLOW_STATE) >= 100, "the cancelled job's resumable state is gone"

    rerun = subprocess.run(_snakemake(tmp_path, SLOW, SLOW_TARGET), cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, env=ENV)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-8000:]
    train_log = (tmp_path / SLOW_LOG).read_text()
    resumed = re.findall(r"resuming from \S+/epoch(\d+)\.pt", train_log)
    assert resumed and int(resumed[-1]) >= 100, train_log[-2000:]  # the cancelled job's state
    assert xr.open_dataset(tmp_path / SLOW_TARGET).sizes["epoch"] == 1500
