"""parallel_runs: a seed's runs trained k at a time in separate processes write the files of
separate runs, bit-identical on the CPU to the same study trained one run after another."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import xarray as xr
import yaml
from conftest import copy_workflow, tiny_study

from sharpness.config import ConfigError, validate_config

pytestmark = pytest.mark.slow


def _study(parallel: int) -> dict:
    return {**tiny_study(epochs=3, switch_epochs=[1, 2]), "granularity": "seed", "parallel_runs": parallel, "seeds": [0]}


def test_parallel_runs_write_the_files_of_a_sequential_job(tmp_path):
    workdir = copy_workflow(tmp_path / "project")
    config = {"studies": {"one-at-a-time": _study(1), "three-at-once": _study(3)}, "figures": {"formats": ["png"], "plots": {}}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--allowed-rules", "prepare_dataset",
                             "train_seeds__one_at_a_time", "train_seeds__three_at_once", "--", *[f"results/{s}/seed0/sam-sgd/t1/run.nc" for s in config["studies"]],
                             *[f"results/{s}/seed0/sgd-sam/t2/final.pt" for s in config["studies"]]],
                            cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    a, b = workdir / "results/one-at-a-time/seed0", workdir / "results/three-at-once/seed0"
    runs = ["sgd", "sam", "sgd-sam/t1", "sgd-sam/t2", "sam-sgd/t1", "sam-sgd/t2"]
    for run in runs:
        with xr.open_dataset(a / run / "run.nc") as x, xr.open_dataset(b / run / "run.nc") as y:
            for name in x.data_vars:
                assert x[name].equals(y[name]), (run, name)
        first = torch.load(a / run / "final.pt", weights_only=True)
        second = torch.load(b / run / "final.pt", weights_only=True)
        for key, value in first["model"].items():
            assert torch.equal(value, second["model"][key]), (run, key)
    log = (workdir / "logs/three-at-once/seed0/train.log").read_text()
    assert "at most 3 at once" in log


def test_parallel_runs_need_a_per_seed_job():
    study = {**_study(2), "granularity": "run"}
    with pytest.raises(ConfigError, match="parallel_runs"):
        validate_config({"studies": {"s": study}})
