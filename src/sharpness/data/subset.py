"""Deterministic subsets of a dataset: the first ``classes`` classes, then the first n examples."""

from __future__ import annotations

from dataclasses import replace

import torch

from .tensors import DatasetTensors

SUBSET_RULE = (
    "keep examples with label < classes (labels unchanged), then the first n_train training and "
    "the first n_test test examples in the source order; None keeps everything"
)


def select_subset(
    data: DatasetTensors,
    *,
    classes: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DatasetTensors:
    """The subset described by :data:`SUBSET_RULE`; the options are recorded in ``meta["subset"]``.

    The normalisation statistics are left as they are: they describe the source training split,
    so an image is normalised the same way whichever subset it ends up in.
    """
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    num_classes = data.num_classes
    if classes is not None:
        _check_count("classes", classes, data.num_classes, "classes", minimum=2)
        x_train, y_train = _keep_classes(x_train, y_train, classes)
        x_test, y_test = _keep_classes(x_test, y_test, classes)
        num_classes = classes
    within = f" in the first {classes} classes" if classes is not None else ""
    if n_train is not None:
        _check_count("n_train", n_train, len(y_train), "training examples" + within)
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    if n_test is not None:
        _check_count("n_test", n_test, len(y_test), "test examples" + within)
        x_test, y_test = x_test[:n_test], y_test[:n_test]
    meta = dict(data.meta, subset={"classes": classes, "n_train": n_train, "n_test": n_test, "rule": SUBSET_RULE})
    return replace(
        data,
        x_train=x_train.contiguous(),
        y_train=y_train.contiguous(),
        x_test=x_test.contiguous(),
        y_test=y_test.contiguous(),
        num_classes=num_classes,
        meta=meta,
    )


def _keep_classes(images: torch.Tensor, labels: torch.Tensor, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    keep = labels < classes
    return images[keep], labels[keep]


def _check_count(option: str, value, available: int, what: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{option} must be an integer or None, got {value!r}")
    if value < minimum:
        raise ValueError(f"{option} must be at least {minimum}, got {value}")
    if value > available:
        raise ValueError(f"{option}={value} but only {available} {what} are available")
