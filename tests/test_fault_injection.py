"""Faults a cluster inflicts, injected into real Snakemake runs on a small study: a second run
on the same folder, a SIGKILL mid-training, and the same during a forced rerun. Each time a
plain rerun (after --unlock) finishes the study with every run file, bit-identical to a run
that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from conftest import copy_workflow, tiny_study

pytestmark = pytest.mark.slow

STUDY = {**tiny_study(epochs=24, switch_epochs=[12], directions=["sgd->sam"]),
         "dataset": {"name": "digits"}, "model": {"name": "cnn", "channels": [4, 8]}}
CONFIG = {"studies": {"kill": STUDY}, "figures": {"formats": ["png"], "plots": {"LS-F3": {"studies": ["kill"]}}}}
RUNS = ["sgd", "sam", "sgd-sam/t12"]


def _copy(workdir: Path) -> Path:
    copy_workflow(workdir)
    (workdir / "kill.yaml").write_text(yaml.safe_dump(CONFIG))
    return workdir


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "kill.yaml", *args],
                          cwd=workdir, capture_output=True, text=True)


def _start(workdir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "kill.yaml", *args],
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _freeze_when_training(proc: subprocess.Popen, log: Path, epoch: int, timeout: float = 120) -> None:
    """SIGSTOP the whole process group (Snakemake and its job) once ``log`` reports ``epoch``
    after what it held when ``proc`` started (Snakemake deletes a job's log when the job
    starts, and the step appends to it)."""
    offset = log.stat().st_size if log.is_file() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text() if log.is_file() else ""
        if len(text) < offset:  # the log was started afresh
            offset = 0
        if f"epoch {epoch}/" in text[offset:]:
            os.killpg(proc.pid, signal.SIGSTOP)
            return
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"{log} never reached epoch {epoch}")


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _finals(workdir: Path) -> dict[str, dict]:
    from sharpness.train import checkpoint as ckpt

    return {run: ckpt.load(workdir / f"results/kill/seed0/{run}/final.pt")["model"] for run in RUNS}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    workdir = _copy(tmp_path_factory.mktemp("ref") / "wf")
    result = _snakemake(workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return _finals(workdir)


def _assert_complete_and_identical(workdir: Path, reference) -> None:
    assert "Nothing to be done" in _snakemake(workdir, "-n").stdout
    for run, weights in _finals(workdir).items():
        for key, value in weights.items():
            assert torch.equal(value, reference[run][key]), (run, key)
    assert not list((workdir / "results").rglob("*.tmp")), "no temporary file is left for good"
    assert not (workdir / "results/kill/.state").exists(), "finished runs leave no (empty) state folders"


def test_second_run_is_refused_and_a_killed_run_resumes_bit_identically(tmp_path, reference):
    workdir = _copy(tmp_path / "wf")
    log = workdir / "logs/kill/seed0/sgd/train.log"
    proc = _start(workdir)
    _freeze_when_training(proc, log, epoch=5)
    second = _snakemake(workdir)  # the same folder, while the first run holds it
    assert second.returncode != 0 and "cannot be locked" in second.stdout + second.stderr
    _kill(proc)  # mid-training: SIGKILL, no chance to clean up
    assert _snakemake(workdir, "--unlock").returncode == 0
    rerun = _snakemake(workdir)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "resuming from" in log.read_text()
    _assert_complete_and_identical(workdir, reference)


def test_a_killed_forced_rerun_loses_no_run_file(tmp_path, reference):
    workdir = _copy(tmp_path / "wf")
    assert _snakemake(workdir).returncode == 0
    log = workdir / "logs/kill/seed0/sgd-sam/t12/train.log"
    proc = _start(workdir, "--forcerun", "train_branch")
    _freeze_when_training(proc, log, epoch=16)
    _kill(proc)
    assert not (workdir / "results/kill/seed0/sgd-sam/t12/run.nc").exists(), "Snakemake removed the forced job's outputs"
    assert _snakemake(workdir, "--unlock").returncode == 0
    rerun = _snakemake(workdir)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "resuming from" in log.read_text()[-2000:]
    _assert_complete_and_identical(workdir, reference)
