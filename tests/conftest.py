"""Shared fixtures: a small prepared digits file and a tiny run spec, built once per session;
and a copy of the workflow for tests that run Snakemake."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from sharpness.data import prepare_dataset
from sharpness.optim import Phase
from sharpness.train import RunSpec


ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "schemas", "envs", "profiles", "src")


def copy_workflow(dest: Path, extra=()) -> Path:
    """A copy of the workflow (and the ``extra`` top-level paths, e.g. "configs") in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*WORKFLOW_FILES, *extra):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


@pytest.fixture(scope="session")
def digits_file(tmp_path_factory) -> str:
    """300 training images of scikit-learn's digits, prepared as the pipeline would."""
    path = tmp_path_factory.mktemp("data") / "digits-n300.pt"
    prepare_dataset("digits", None, path, n_train=300)
    return str(path)


def make_spec(phases=(("sgd", 4),), **overrides) -> RunSpec:
    """A run of a tiny MLP; ``phases`` as (optimizer, until_epoch) pairs."""
    settings = {"sgd": {"momentum": 0.9, "weight_decay": 5e-4}, "sam": {"rho": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
                "usam": {"rho": 0.5, "momentum": 0.9}}
    fields = dict(
        seed=0,
        epochs=phases[-1][1],
        model={"name": "mlp", "width": 16, "depth": 1},
        loss="cross_entropy",
        batch_size=64,
        lr_schedule={"name": "constant", "lr": 0.05},
        phases=tuple(Phase(opt, until, settings[opt]) for opt, until in phases),
        dataset={"name": "digits", "n_train": 300},
    )
    fields.update(overrides)
    return RunSpec(**fields)


def tiny_study(lr: float = 0.05, epochs: int = 3, switch_epochs=(1, 2), directions=("sgd->sam", "sam->sgd")) -> dict:
    """A switching study small enough to run through Snakemake in a test."""
    return {
        "kind": "switching",
        "dataset": {"name": "digits", "n_train": 200},
        "model": {"name": "mlp", "width": 8, "depth": 1},
        "loss": "cross_entropy",
        "seeds": [0],
        "epochs": epochs,
        "batch_size": 50,
        "lr_schedule": {"name": "constant", "lr": lr},
        "optimizers": {"sgd": {"momentum": 0.9}, "sam": {"rho": 0.05, "momentum": 0.9}},
        "switching": {"directions": list(directions), "switch_epochs": list(switch_epochs)},
        "sharpness": {"n_samples": 100, "batch_size": 100, "k": 2},
    }


@pytest.fixture
def one_torch_thread():
    """Small models: one intra-op thread avoids OpenMP barrier waits on shared cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
