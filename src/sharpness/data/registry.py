"""Datasets by name: the loaders, and :func:`load_dataset` which applies subsets and fingerprints."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable

from .digits import load_digits_dataset
from .hashing import tensor_sha256
from .subset import select_subset
from .tensors import DatasetTensors
from .torchvision_sources import load_cifar10, load_cifar100, load_fashion_mnist, load_mnist, load_svhn

# name -> loader(root, download) returning the full dataset with its official (or fixed) split.
Loader = Callable[[str | os.PathLike | None, bool], DatasetTensors]

DATASETS: dict[str, Loader] = {
    "digits": load_digits_dataset,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "svhn": load_svhn,
}


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    classes: int | None = None,
    download: bool = False,
) -> DatasetTensors:
    """Load dataset ``name`` from ``root`` and keep the subset the options describe.

    ``classes`` keeps labels 0..classes-1; ``n_train``/``n_test`` then keep the first examples
    in source order. The SHA-256 of the four resulting tensors and the per-class counts are
    recorded in ``meta`` so that two runs can check they saw the same data.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
    data = DATASETS[name](root, download)
    data = select_subset(data, classes=classes, n_train=n_train, n_test=n_test)
    meta = dict(
        data.meta,
        train_class_counts=_class_counts(data, "train"),
        test_class_counts=_class_counts(data, "test"),
        tensor_sha256={
            "x_train": tensor_sha256(data.x_train),
            "y_train": tensor_sha256(data.y_train),
            "x_test": tensor_sha256(data.x_test),
            "y_test": tensor_sha256(data.y_test),
        },
    )
    return replace(data, meta=meta)


def _class_counts(data: DatasetTensors, split: str) -> list[int]:
    return data.labels(split).bincount(minlength=data.num_classes).tolist()
