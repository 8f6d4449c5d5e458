"""Prepared datasets: one tensor file per dataset variant, fingerprinted by a JSON sidecar.

``prepare_dataset`` is the pipeline step that turns source files into ``<out>`` plus
``<out>.json``; training jobs read ``<out>`` with :func:`load_prepared`, which refuses a file
whose SHA-256 differs from the one recorded when it was written.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

import torch

from .atomic import atomic_write
from .errors import DatasetIntegrityError
from .hashing import file_sha256
from .registry import load_dataset
from .tensors import DatasetTensors

FORMAT = "sharpness.prepared-dataset/1"
TENSOR_KEYS = ("x_train", "y_train", "x_test", "y_test")


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the metadata of prepared file ``path`` lives: ``<path>.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def prepare_dataset(
    name: str,
    root: str | os.PathLike | None,
    out_path: str | os.PathLike,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    classes: int | None = None,
    download: bool = False,
) -> dict:
    """Load a dataset variant, write it to ``out_path`` and its sidecar, both atomically.

    Returns the sidecar's contents, including the file's ``sha256``. The tensor file holds only
    data that does not depend on the machine (no paths, no versions, no times), so preparing the
    same variant twice gives the same bytes; the software versions go into the sidecar.
    """
    data = load_dataset(name, root, n_train=n_train, n_test=n_test, classes=classes, download=download)
    out_path = Path(out_path)
    with atomic_write(out_path) as f:
        # Saving through a file object keeps the archive's internal folder name fixed; saving to
        # a path would embed the temporary file's random name and make the bytes vary.
        torch.save(_payload(data), f)
    record = {
        "format": FORMAT,
        "file": out_path.name,
        "sha256": file_sha256(out_path),
        "bytes": out_path.stat().st_size,
        "name": data.name,
        "options": {"classes": classes, "n_train": n_train, "n_test": n_test},
        "num_classes": data.num_classes,
        "mean": list(data.mean),
        "std": list(data.std),
        "shapes": {key: list(getattr(data, key).shape) for key in TENSOR_KEYS},
        "meta": data.meta,
        "environment": _package_versions(),
    }
    with atomic_write(sidecar_path(out_path), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return record


def load_prepared(path: str | os.PathLike, verify: bool = True) -> DatasetTensors:
    """Read a prepared file; with ``verify`` its SHA-256 must match the sidecar's.

    The file's SHA-256 is put into ``meta["sha256"]`` so results can name the exact data used.
    """
    path = Path(path)
    sha256 = file_sha256(path)
    if verify:
        expected = _recorded_sha256(path)
        if sha256 != expected:
            raise DatasetIntegrityError(
                f"{path} has sha256 {sha256} but {sidecar_path(path)} records {expected}: "
                "the file is corrupt or was replaced; prepare the dataset again"
            )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a prepared dataset of format {FORMAT} (found {payload.get('format')!r})")
    return DatasetTensors(
        *(payload[key] for key in TENSOR_KEYS),
        num_classes=int(payload["num_classes"]),
        mean=tuple(payload["mean"]),
        std=tuple(payload["std"]),
        name=payload["name"],
        meta=dict(payload["meta"], sha256=sha256),
    )


def _payload(data: DatasetTensors) -> dict:
    tensors = {key: getattr(data, key).to("cpu").contiguous() for key in TENSOR_KEYS}
    return dict(
        tensors,
        format=FORMAT,
        name=data.name,
        num_classes=data.num_classes,
        mean=list(data.mean),
        std=list(data.std),
        meta=data.meta,
    )


def _recorded_sha256(path: Path) -> str:
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise FileNotFoundError(
            f"{sidecar} is missing; it records the sha256 that {path} is checked against "
            "(prepare the dataset again, or load with verify=False to skip the check)"
        )
    return json.loads(sidecar.read_text())["sha256"]


def _package_versions() -> dict:
    versions = {}
    for package in ("torch", "torchvision", "numpy", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
