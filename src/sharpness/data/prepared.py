"""Prepared datasets: one tensor file per dataset variant, fingerprinted by a JSON sidecar.

``prepare_dataset`` is the pipeline step that turns source files into ``<out>`` plus
``<out>.json``; training jobs read ``<out>`` with :func:`load_prepared`, which refuses a file
whose SHA-256 differs from the one recorded when it was written.

Image datasets and text datasets share the file layout (a dict of the four tensors plus plain
metadata) and are told apart by its ``format`` tag: :data:`FORMAT` for images (unchanged, so
files prepared before text existed keep their bytes), :data:`SEQUENCE_FORMAT` for token windows.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

import torch

from ..atomic import atomic_write
from .errors import DatasetIntegrityError
from .hashing import file_sha256
from .registry import load_dataset
from .tensors import DatasetTensors
from .text import SequenceTensors

FORMAT = "sharpness.prepared-dataset/1"
SEQUENCE_FORMAT = "sharpness.prepared-sequences/1"
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
    context: int | None = None,
    label_noise: float = 0.0,
    label_noise_seed: int = 0,
) -> dict:
    """Load a dataset variant, write it to ``out_path`` and its sidecar, both atomically.

    Returns the sidecar's contents, including the file's ``sha256``. The tensor file holds only
    data that does not depend on the machine (no paths, no versions, no times), so preparing the
    same variant twice gives the same bytes; the software versions go into the sidecar.
    ``context`` is for text datasets only and ``classes`` for image datasets only (see
    :func:`load_dataset`).
    """
    data = load_dataset(
        name, root, n_train=n_train, n_test=n_test, classes=classes, download=download, context=context,
        label_noise=label_noise, label_noise_seed=label_noise_seed,
    )
    out_path = Path(out_path)
    with atomic_write(out_path) as f:
        # Saving through a file object keeps the archive's internal folder name fixed; saving to
        # a path would embed the temporary file's random name and make the bytes vary.
        torch.save(_payload(data), f)
    record = {
        "format": _format_of(data),
        "file": out_path.name,
        "sha256": file_sha256(out_path),
        "bytes": out_path.stat().st_size,
        "name": data.name,
        "num_classes": data.num_classes,
        "shapes": {key: list(getattr(data, key).shape) for key in TENSOR_KEYS},
        "meta": data.meta,
        "environment": _package_versions(),
    }
    if data.is_sequence:
        # The resolved window length, so a changed default cannot make two sidecars ambiguous.
        record["options"] = {"context": data.context, "n_train": n_train, "n_test": n_test}
    else:
        record.update(
            options={"classes": classes, "n_train": n_train, "n_test": n_test}
            | ({"label_noise": label_noise, "label_noise_seed": label_noise_seed} if label_noise else {}),
            mean=list(data.mean),
            std=list(data.std),
        )
    with atomic_write(sidecar_path(out_path), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    return record


PREPROCESSING = ("standardize", "center")


def load_prepared(path: str | os.PathLike, verify: bool = True, preprocess: str = "standardize") -> DatasetTensors | SequenceTensors:
    """Read a prepared file; with ``verify`` its SHA-256 must match the sidecar's.

    ``preprocess`` says how images become inputs: ``standardize`` (per-channel mean and std of
    the source training split) or ``center`` (minus the per-pixel mean of this training split,
    :meth:`DatasetTensors.centered`). Token windows have no preprocessing.

    Returns :class:`DatasetTensors` or :class:`SequenceTensors` as the file's format says
    (``.is_sequence`` tells them apart). The file's SHA-256 is put into ``meta["sha256"]`` so
    results can name the exact data used.
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
    if preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess must be one of {PREPROCESSING}, got {preprocess!r}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    found = payload.get("format") if isinstance(payload, dict) else None
    if found == SEQUENCE_FORMAT:
        if preprocess != "standardize":
            raise ValueError(f"{path} holds token windows, which take no preprocessing (got {preprocess!r})")
        return SequenceTensors(
            *(payload[key] for key in TENSOR_KEYS),
            num_classes=int(payload["num_classes"]),
            name=payload["name"],
            meta=dict(payload["meta"], sha256=sha256),
        )
    if found != FORMAT:
        raise ValueError(
            f"{path} is not a prepared dataset of format {FORMAT} or {SEQUENCE_FORMAT} (found {found!r})"
        )
    data = DatasetTensors(
        *(payload[key] for key in TENSOR_KEYS),
        num_classes=int(payload["num_classes"]),
        mean=tuple(payload["mean"]),
        std=tuple(payload["std"]),
        name=payload["name"],
        meta=dict(payload["meta"], sha256=sha256),
    )
    return data.centered() if preprocess == "center" else data


def _format_of(data: DatasetTensors | SequenceTensors) -> str:
    return SEQUENCE_FORMAT if data.is_sequence else FORMAT


def _payload(data: DatasetTensors | SequenceTensors) -> dict:
    tensors = {key: getattr(data, key).to("cpu").contiguous() for key in TENSOR_KEYS}
    if data.is_sequence:
        return dict(tensors, format=SEQUENCE_FORMAT, name=data.name, num_classes=data.num_classes, meta=data.meta)
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
