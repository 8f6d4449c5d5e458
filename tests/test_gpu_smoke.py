"""The GPU smoke config and its generated CIFAR-shaped data, checked on the CPU: the data is
deterministic and learnable, and the whole DAG of the smoke study plans."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from conftest import copy_workflow

from sharpness.config import load_config
from sharpness.data import load_dataset

SMOKE = "configs/smoke/gpu.yaml"


def test_synthetic_cifar_is_cifar_shaped_balanced_and_the_same_every_time():
    a = load_dataset("synthetic_cifar10", n_train=500, n_test=100)
    b = load_dataset("synthetic_cifar10", n_train=500, n_test=100)
    assert a.x_train.shape == (500, 3, 32, 32) and a.x_train.dtype == torch.uint8 and a.num_classes == 10
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert torch.bincount(a.y_train, minlength=10).min() >= 30


def test_synthetic_cifar_classes_are_learnable():
    """Nearest class mean on the raw pixels of held-out images: far above chance (0.1)."""
    data = load_dataset("synthetic_cifar10", n_train=2000, n_test=500)
    x, y = data.x_train.float().flatten(1), data.y_train
    means = torch.stack([x[y == c].mean(0) for c in range(10)])
    accuracy = float((torch.cdist(data.x_test.float().flatten(1), means).argmin(1) == data.y_test).float().mean())
    assert accuracy > 0.9


def test_the_smoke_config_is_a_paper_shaped_cuda_study_in_its_own_namespace():
    config = load_config(SMOKE)
    [(name, study)] = config["studies"].items()
    assert study["device"] == "cuda" and study["model"]["name"] == "wrn" and set(study["switching"]["directions"]) == {"sgd->sam", "sam->sgd"}
    assert study["spectrum"] and config["figures"]["namespace"] == "smoke"


@pytest.mark.slow
def test_the_smoke_config_plans_its_whole_dag_on_a_cpu(tmp_path):
    workdir = copy_workflow(tmp_path / "clone", extra=("configs", "config.yaml"))
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", SMOKE],
                            cwd=workdir, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    planned = set(re.findall(r"^(\w+?)(?:__\w+)?\s+\d+$", result.stdout, flags=re.M))
    assert {"prepare_dataset", "train_seeds", "final_sharpness", "spectrum", "collect", "report", "claims", "ledger",
            "archive", "checksums"} <= planned


def test_gpu_check_says_what_is_missing_and_stops_without_a_gpu(tmp_path):
    """On this CPU machine the script stops early and says why: wheels it lacks, or no CUDA."""
    env = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out"), "WHEELS": str(tmp_path / "no-wheels"), "PYTHON": sys.executable}
    result = subprocess.run(["bash", "benchmarks/gpu_check.sh"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1
    assert "no wheels in" in result.stderr or "no CUDA device" in result.stdout + result.stderr


def _wheel(directory, name: str, module: str) -> None:
    """A minimal pure-Python wheel of distribution ``name`` holding ``module``."""
    import base64
    import hashlib
    import zipfile

    files = {f"{module}/__init__.py": "FROM_TEST_WHEEL = True\n",
             f"{name}-0.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0\n",
             f"{name}-0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    digest = lambda text: base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()  # noqa: E731
    record = "".join(f"{path},sha256={digest(text)},{len(text.encode())}\n" for path, text in files.items())
    files[f"{name}-0.0.dist-info/RECORD"] = record + f"{name}-0.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(directory / f"{name}-0.0-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the script would go on to measure")
def test_gpu_check_installs_only_the_wheels_of_what_the_machine_lacks(tmp_path):
    """The wheels carried to the GPU machine may include dependencies it already has (numpy,
    say): those are skipped, so the machine's own builds are never shadowed."""
    import importlib.util

    assert importlib.util.find_spec("pyhessian") is None, "this test needs a Python without pyhessian"
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    wheels.mkdir()
    _wheel(wheels, "pyhessian", "pyhessian")
    _wheel(wheels, "numpy", "numpy")  # installed here: must not be installed again
    env = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out"), "WHEELS": str(wheels), "SITE": str(site), "PYTHON": sys.executable}
    result = subprocess.run(["bash", "benchmarks/gpu_check.sh"], capture_output=True, text=True, timeout=120, env=env)
    assert "installing from" in result.stdout and "pyhessian-0.0" in result.stdout and "numpy-0.0" not in result.stdout
    assert (site / "pyhessian" / "__init__.py").is_file() and not (site / "numpy").exists()
    assert result.returncode == 1 and "no CUDA device" in result.stdout + result.stderr
