"""Checks of the machine a config will run on, before any job (no torch).

A dataset that is neither prepared nor on disk, with ``download: false``, and ``device: cuda``
on a machine without a GPU would otherwise fail seconds into the first job, after a traceback.
The dataset check runs while the Snakefile is read; the device check when a run starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import ConfigError, Study

# The native files torchvision (and our text loader) read, relative to data_root. MNIST-style
# datasets may hold either the idx file or its .gz archive (unpacked on first use).
NATIVE_FILES = {
    "cifar10": ["cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/test_batch", "cifar-10-batches-py/batches.meta"],
    "cifar100": ["cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta"],
    "mnist": ["MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-images-idx3-ubyte"],
    "fashion_mnist": ["FashionMNIST/raw/train-images-idx3-ubyte", "FashionMNIST/raw/t10k-images-idx3-ubyte"],
    "svhn": ["train_32x32.mat", "test_32x32.mat"],
    "tiny_shakespeare": ["tiny_shakespeare/input.txt"],
}


def missing_dataset_files(study: Study, data_root: str, results: str = "results") -> list[str]:
    """The native files study's dataset still needs: none if it is prepared already, downloads,
    or ships with a library (digits, pydoc_topics)."""
    dataset = study.cfg.get("dataset")
    if not dataset or dataset.get("download") or dataset["name"] not in NATIVE_FILES:
        return []
    if study.dataset_key and Path(results, "data", f"{study.dataset_key}.pt").is_file():
        return []
    root = Path(data_root).expanduser()
    return [f for f in NATIVE_FILES[dataset["name"]] if not (root / f).is_file() and not (root / f"{f}.gz").is_file()]


def check_dataset_files(config: dict, results: str = "results") -> None:
    for name, cfg in config["studies"].items():
        missing = missing_dataset_files(Study(name, cfg), config.get("data_root", "data"), results)
        if missing:
            raise ConfigError(
                f"config key 'studies.{name}.dataset.download': false, and {cfg['dataset']['name']} is not under "
                f"data_root={config.get('data_root', 'data')!r} (missing: {', '.join(missing)}); set download: true "
                "or place the original files there"
            )


def gpu_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU to this process, without importing torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def cuda_studies(config: dict) -> list[str]:
    return [name for name, cfg in config["studies"].items() if cfg.get("device") == "cuda"]


def check_device(config: dict, local: bool) -> None:
    """``device: cuda`` without a GPU stops a local run before its first job. A dry run cannot
    tell a local run from one meant for a cluster, and a cluster's nodes check their own device
    when a job starts, so this runs when the workflow starts executing (``onstart``)."""
    studies = cuda_studies(config)
    # Inside a SLURM job the node's own torch decides (it may be a GPU this check cannot see).
    if not studies or not local or "SLURM_JOB_ID" in os.environ or gpu_visible():
        return
    raise ConfigError(
        f"config key 'studies.{studies[0]}.device': studies {', '.join(studies)} ask for device: cuda, and this "
        "machine shows no GPU; run them on a cluster (--profile profiles/slurm) or set device: cpu"
    )
