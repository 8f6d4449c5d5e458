"""Model sizes checked against the config before any job: eigenvalues asked of a model with
fewer parameters, and models whose training state cannot fit in the memory the job has.

Both would otherwise fail after compute: Lanczos cannot return more eigenvalues than the
Hessian's dimension, and an oversized width fails when its first job allocates it. Parameters
are counted on torch's meta device (no memory, no weights drawn), so this imports torch and
runs when a run starts (the Snakefile's ``onstart``), not on every parse of the workflow; the
rest of :mod:`sharpness.config` does not import it.
"""

from __future__ import annotations

import os

import torch

from ..models import build_model
from .base import ConfigError, Study

# One example's shape and the number of classes of each dataset, as the models see them. Text
# datasets are (context,) token windows; their vocabulary is bounded by 256 byte values.
IMAGE_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32),
                "cifar100": (3, 32, 32), "svhn": (3, 32, 32)}
CLASSES = {"cifar100": 100}
TEXT_VOCABULARY = 256
DEFAULT_CONTEXT = 64
# Copies of the parameters one training job holds at once: weights, gradients, momentum, and
# SAM's perturbation (Lanczos adds k vectors more: counted separately).
TRAINING_COPIES = 4
BYTES = {"float32": 4, "float64": 8}


def count_parameters(model_cfg: dict, dataset: dict) -> int:
    """Trainable parameters of the model ``model_cfg`` on ``dataset`` (a study's config)."""
    name = dataset["name"]
    if name in IMAGE_SHAPES:
        shape, classes = IMAGE_SHAPES[name], dataset.get("classes") or CLASSES.get(name, 10)
    else:
        shape, classes = (dataset.get("context") or DEFAULT_CONTEXT,), TEXT_VOCABULARY
    counted = {k: v for k, v in model_cfg.items() if k != "weights"}  # pretrained weights: same count, not loaded
    with torch.device("meta"):
        model = build_model(counted, shape, classes)
    return sum(p.numel() for p in model.parameters())


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _models(study: Study) -> list[tuple[str, dict]]:
    """(config key, model config) of every model the study trains: one per width it sweeps."""
    model = study.cfg["model"]
    widths = study.cfg.get("grid", {}).get("width")
    if widths:
        return [(f"{study.where}.grid.width", {**model, "width": w}) for w in widths]
    return [(f"{study.where}.model" + (".width" if "width" in model else ""), model)]


def _eigenvalue_counts(study: Study) -> list[tuple[str, int]]:
    """(config key, k) of every top-k Hessian measurement of the study."""
    cfg = study.cfg
    found = [(f"{study.where}.{section}.k", cfg[section]["k"]) for section in ("sharpness", "spectrum", "measure")
             if isinstance(cfg.get(section), dict) and "k" in cfg[section]]
    return found


def check_model_sizes(config: dict, available: int | None = None) -> None:
    """Raise :class:`ConfigError` naming the key of a top-k larger than a model's parameter
    count, or of a model whose training state exceeds the job's memory (its study's
    ``resources.mem_mb``, else ``available``: this machine's memory)."""
    for name, cfg in config["studies"].items():
        study = Study(name, cfg)
        if "model" not in cfg or "dataset" not in cfg:
            continue
        budget = cfg.get("resources", {}).get("mem_mb")
        budget = budget * 2**20 if budget else (available or memory_bytes())
        for key, model in _models(study):
            n = count_parameters(model, cfg["dataset"])
            for k_key, k in _eigenvalue_counts(study):
                if k > n:
                    raise ConfigError(f"config key '{k_key}': {k} eigenvalues asked of a model with {n} parameters "
                                      f"({key} = {model.get('width', model['name'])}); at most {n}")
            need = TRAINING_COPIES * n * BYTES[cfg.get("dtype", "float32")]
            if need > budget:
                raise ConfigError(f"config key '{key}': the model has {n:,} parameters, whose training state needs about "
                                  f"{need / 2**30:.1f} GiB, more than the job's {budget / 2**30:.1f} GiB "
                                  f"(resources.mem_mb, or this machine's memory); make it smaller")
