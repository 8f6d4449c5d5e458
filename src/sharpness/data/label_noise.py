"""Symmetric label noise on the training split (Foret et al. 2021 §3.3; Zhang et al. 2017).

A fixed fraction of the training examples, chosen by a fixed noise seed, get a label drawn
uniformly from the *other* classes, so exactly that fraction of training labels is wrong. The
test split is never touched: test error measures generalization to clean labels. The noisy
labels are part of the prepared file, so its SHA-256 changes with the fraction and the seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .tensors import DatasetTensors

NOISE_RULE = (
    "round(fraction * n_train) training examples, drawn without replacement by the noise seed, get a "
    "label drawn uniformly from the other num_classes - 1 classes; the test split is clean"
)


def corrupt_labels(labels: torch.Tensor, num_classes: int, fraction: float, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """``labels`` with ``fraction`` of them replaced by a different class; also the indices changed.

    numpy's ``SeedSequence`` makes the draw a function of (seed, n, num_classes) only, on every
    machine and torch version."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"label_noise must be a fraction in [0, 1), got {fraction!r}")
    if num_classes < 2:
        raise ValueError("label noise needs at least 2 classes")
    n = len(labels)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, n, num_classes])))
    flipped = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    # An offset in 1..c-1 added modulo c picks each other class with probability 1/(c-1).
    offsets = rng.integers(1, num_classes, size=len(flipped))
    noisy = labels.clone()
    noisy[torch.from_numpy(flipped)] = (labels[torch.from_numpy(flipped)] + torch.from_numpy(offsets)) % num_classes
    return noisy, flipped


def with_label_noise(data: DatasetTensors, fraction: float, seed: int) -> DatasetTensors:
    """``data`` with noisy training labels; ``meta["label_noise"]`` records what was done."""
    y_noisy, flipped = corrupt_labels(data.y_train, data.num_classes, fraction, seed)
    meta = dict(
        data.meta,
        label_noise={"fraction": fraction, "seed": seed, "n_flipped": int(len(flipped)), "rule": NOISE_RULE},
    )
    return replace(data, y_train=y_noisy.contiguous(), meta=meta)
