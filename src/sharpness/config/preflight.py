"""Checks of the machine a config will run on, before any job (no torch).

Some inputs only the user can supply: a dataset with ``download: false`` that is neither
prepared nor under ``data_root``, and pretrained weights (never downloaded). A config that needs
them is still a valid plan: while the Snakefile is read they are listed as a warning block, file
by file with how to make it, and a dry run goes on; a real run stops before its first job
(``onstart`` in the Snakefile) with the same list. ``device: cuda`` on a machine without a GPU
stops a local run there too; otherwise each would fail in its first job, after a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MissingInput:
    """Files a study needs that the user must provide, with the config key that names them."""

    key: str
    files: tuple[str, ...]
    how: str

    def __str__(self) -> str:
        return f"config key '{self.key}': missing {', '.join(self.files)}; {self.how}"


def missing_inputs(config: dict, results: str = "results") -> list[MissingInput]:
    """Every input of the config's studies that is neither on disk nor made by the workflow."""
    root = config.get("data_root", "data")
    found = []
    for name, cfg in config["studies"].items():
        missing = missing_dataset_files(Study(name, cfg), root, results)
        if missing:
            found.append(MissingInput(
                f"studies.{name}.dataset.download", tuple(str(Path(root, f)) for f in missing),
                f"{cfg['dataset']['name']} is not downloaded (download: false): place the original files under "
                f"data_root={root!r}, or set download: true",
            ))
        weights = cfg.get("model", {}).get("weights")
        if weights and not Path(weights).expanduser().is_file():
            found.append(MissingInput(
                f"studies.{name}.model.weights", (weights,),
                "pretrained weights are never downloaded: save torchvision's ViT-B/16 state_dict there, e.g. "
                "torch.save(torchvision.models.vit_b_16(weights='IMAGENET1K_V1').state_dict(), path)",
            ))
    return found


def missing_inputs_warning(missing: list[MissingInput]) -> str:
    """The block a dry run prints: what to provide before a real run."""
    rule = "-" * 78
    lines = [rule, "Inputs to provide before a real run (it stops before its first job without them):"]
    lines += [f"  - {item}" for item in missing]
    return "\n".join([*lines, rule])


def stop_for_missing_inputs(missing: list[MissingInput]) -> None:
    """Stop a real run before its first job while a user-supplied input is missing."""
    if missing:
        raise ConfigError("\n".join(["inputs to provide before this run can start:", *(f"  - {m}" for m in missing)]))


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
