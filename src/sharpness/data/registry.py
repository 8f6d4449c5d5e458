"""Datasets by name: the loaders, and :func:`load_dataset` which applies subsets and fingerprints."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable

from .digits import load_digits_dataset
from .label_noise import with_label_noise
from .hashing import tensor_sha256
from .subset import select_subset
from .synthetic import load_synthetic_cifar10
from .tensors import DatasetTensors
from .text import DEFAULT_CONTEXT, SequenceTensors, load_pydoc_topics, load_tiny_shakespeare
from .torchvision_sources import load_cifar10, load_cifar100, load_fashion_mnist, load_mnist, load_svhn

# name -> loader(root, download) returning the full dataset with its official (or fixed) split;
# text loaders also take context=, the window length.
Loader = Callable[..., DatasetTensors | SequenceTensors]

_IMAGE_DATASETS: dict[str, Loader] = {
    "digits": load_digits_dataset,
    "mnist": load_mnist,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "svhn": load_svhn,
    "synthetic_cifar10": load_synthetic_cifar10,
}
_SEQUENCE_DATASETS: dict[str, Loader] = {
    "tiny_shakespeare": load_tiny_shakespeare,
    "pydoc_topics": load_pydoc_topics,
}

DATASETS: dict[str, Loader] = {**_IMAGE_DATASETS, **_SEQUENCE_DATASETS}
# The character-level text datasets: they take ``context`` and have no ``classes``.
SEQUENCE_DATASETS: tuple[str, ...] = tuple(_SEQUENCE_DATASETS)


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    classes: int | None = None,
    download: bool = False,
    context: int | None = None,
    label_noise: float = 0.0,
    label_noise_seed: int = 0,
) -> DatasetTensors | SequenceTensors:
    """Load dataset ``name`` from ``root`` and keep the subset the options describe.

    ``classes`` keeps labels 0..classes-1; ``n_train``/``n_test`` then keep the first examples
    (for text: windows) in source order. ``context`` is the window length of a text dataset
    (None: :data:`DEFAULT_CONTEXT`); text has no ``classes`` and images no ``context``, and
    passing one where it means nothing is an error. ``label_noise`` > 0 then corrupts that
    fraction of the training labels (:mod:`.label_noise`; images only). The SHA-256 of the four resulting tensors and
    the per-class counts (for text: of target characters) are recorded in ``meta`` so that two
    runs can check they saw the same data.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
    if name in _SEQUENCE_DATASETS:
        if classes is not None:
            raise ValueError(
                f"option classes={classes!r} does not apply to the text dataset {name!r}: "
                "its labels are next characters, not classes (use n_train/n_test to subset)"
            )
        if label_noise:
            raise ValueError(f"label_noise applies to the image datasets, not to the text dataset {name!r}")
        data = DATASETS[name](root, download, context=DEFAULT_CONTEXT if context is None else context)
    else:
        if context is not None:
            raise ValueError(
                f"option context={context!r} applies only to the text datasets "
                f"({', '.join(SEQUENCE_DATASETS)}), not to the image dataset {name!r}"
            )
        data = DATASETS[name](root, download)
    data = select_subset(data, classes=classes, n_train=n_train, n_test=n_test)
    if label_noise:
        data = with_label_noise(data, label_noise, label_noise_seed)
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


def _class_counts(data: DatasetTensors | SequenceTensors, split: str) -> list[int]:
    # Flattened: text targets are (N, context) windows.
    return data.labels(split).reshape(-1).bincount(minlength=data.num_classes).tolist()
