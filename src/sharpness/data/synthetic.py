"""A CIFAR-shaped dataset made on the spot: for smoke runs of the paper-scale code on a machine
that has no dataset and no network (a GPU node, say).

Each of the 10 classes has a fixed random 3×32×32 template at low resolution (4×4, upsampled),
and an image is its class's template plus per-pixel Gaussian noise, as uint8. The classes are
easy to tell apart (a nearest-class-mean rule on the pixels does), so a network learns them
within an epoch: enough for every rule of the pipeline to run on real-shaped tensors, not a
benchmark of generalization. Everything is drawn from one seeded
generator: the same size gives the same tensors on every machine (their SHA-256 is recorded).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .tensors import DatasetTensors

TRAIN_SIZE, TEST_SIZE, CLASSES = 50000, 10000, 10
SEED = 0
NOISE = 48.0  # per-pixel sd in grey levels; the templates' sd is about 64


def load_synthetic_cifar10(root: str | os.PathLike | None = None, download: bool = False) -> DatasetTensors:
    """50,000 training and 10,000 test images of shape 3×32×32 in 10 balanced classes; ``root``
    and ``download`` are unused (nothing is read or fetched)."""
    gen = torch.Generator().manual_seed(SEED)
    coarse = torch.rand(CLASSES, 3, 4, 4, generator=gen, dtype=torch.float32)
    templates = 32 + 192 * F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % CLASSES
        labels = labels[torch.randperm(n, generator=gen)]
        noise = NOISE * torch.randn(n, 3, 32, 32, generator=gen, dtype=torch.float32)
        return (templates[labels] + noise).round().clamp(0, 255).to(torch.uint8), labels

    x_train, y_train = split(TRAIN_SIZE)
    x_test, y_test = split(TEST_SIZE)
    meta = {
        "source": "sharpness.data.synthetic (generated, seed 0)",
        "class_names": [f"class{c}" for c in range(CLASSES)],
        "generator": f"template (4x4 uniform, bilinear to 32x32, 32 + 192 u) + N(0, {NOISE}^2), rounded to uint8",
    }
    return DatasetTensors.from_splits("synthetic_cifar10", x_train, y_train, x_test, y_test, CLASSES, meta)
