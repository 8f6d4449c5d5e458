"""MNIST, Fashion-MNIST, CIFAR-10/100 and SVHN read by torchvision from their native files.

torchvision checks the md5 of every CIFAR and SVHN file against the published checksum; for
MNIST-style datasets it checks the md5 of the ``.gz`` archives only, so archives found on disk
are verified here before they are unpacked. The SHA-256 of every native file that was read is
recorded in ``meta["source_files"]``.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from .errors import DatasetIntegrityError
from .hashing import file_sha256
from .tensors import DatasetTensors

OFFICIAL_SPLIT = "official train/test split of the source files"
MD5_CHECKED = "torchvision checked the md5 of every native file against the published checksums"
MD5_OF_ARCHIVES = (
    "md5 of .gz archives checked against torchvision's published checksums when unpacked here; "
    "idx files found already unpacked carry no published checksum (their sha256 is recorded)"
)


def load_mnist(root: str | os.PathLike | None, download: bool = False) -> DatasetTensors:
    return _load_mnist_style("mnist", "MNIST", root, download)


def load_fashion_mnist(root: str | os.PathLike | None, download: bool = False) -> DatasetTensors:
    return _load_mnist_style("fashion_mnist", "FashionMNIST", root, download)


def load_cifar10(root: str | os.PathLike | None, download: bool = False) -> DatasetTensors:
    return _load_cifar("cifar10", "CIFAR10", root, download)


def load_cifar100(root: str | os.PathLike | None, download: bool = False) -> DatasetTensors:
    return _load_cifar("cifar100", "CIFAR100", root, download)


def load_svhn(root: str | os.PathLike | None, download: bool = False) -> DatasetTensors:
    """SVHN's train and test files (the 'extra' file is not used); torchvision maps the files'
    label 10, which stands for digit 0, to 0."""
    root = _require_root("svhn", root)
    cls = _torchvision_class("SVHN")
    files = [(Path(entry[1]), entry[2]) for split, entry in cls.split_list.items() if split in ("train", "test")]
    train = _open("svhn", root, files, download, cls, split="train")
    test = _open("svhn", root, files, download, cls, split="test")

    def arrays(ds):
        return torch.from_numpy(np.ascontiguousarray(ds.data)), torch.from_numpy(ds.labels.astype(np.int64))

    class_names = [str(digit) for digit in range(10)]
    return _build("svhn", cls, root, files, arrays(train), arrays(test), class_names, MD5_CHECKED)


def _load_cifar(name: str, class_name: str, root, download: bool) -> DatasetTensors:
    root = _require_root(name, root)
    cls = _torchvision_class(class_name)
    folder = Path(cls.base_folder)
    files = [(folder / f, md5) for f, md5 in cls.train_list + cls.test_list]
    files.append((folder / cls.meta["filename"], cls.meta["md5"]))
    train = _open(name, root, files, download, cls, train=True)
    test = _open(name, root, files, download, cls, train=False)

    def arrays(ds):
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # stored as NHWC
        return images, torch.as_tensor(ds.targets, dtype=torch.int64)

    return _build(name, cls, root, files, arrays(train), arrays(test), list(train.classes), MD5_CHECKED)


def _load_mnist_style(name: str, class_name: str, root, download: bool) -> DatasetTensors:
    root = _require_root(name, root)
    cls = _torchvision_class(class_name)
    raw = Path(cls.__name__) / "raw"
    _unpack_verified_archives(root, raw, cls.resources)
    # The unpacked idx files have no published checksum; torchvision only checks they exist.
    files = [(raw / archive.removesuffix(".gz"), None) for archive, _ in cls.resources]
    train = _open(name, root, files, download, cls, train=True)
    test = _open(name, root, files, download, cls, train=False)

    def arrays(ds):
        return ds.data.unsqueeze(1).contiguous(), ds.targets.to(torch.int64)

    return _build(name, cls, root, files, arrays(train), arrays(test), list(cls.classes), MD5_OF_ARCHIVES)


def _unpack_verified_archives(root: Path, raw: Path, resources) -> None:
    """Unpack ``<file>.gz`` archives placed by hand whose idx file is not there yet, after
    checking the archive's md5 against torchvision's list (what its downloader would check)."""
    from torchvision.datasets.utils import check_integrity

    for archive, md5 in resources:
        gz_path = root / raw / archive
        target = root / raw / archive.removesuffix(".gz")
        if target.is_file() or not gz_path.is_file():
            continue
        if not check_integrity(str(gz_path), md5):
            raise DatasetIntegrityError(
                f"{gz_path} does not have the published md5 {md5}; replace it with the original file"
            )
        with gzip.open(gz_path, "rb") as source, atomic_write(target) as dest:
            shutil.copyfileobj(source, dest)


def _open(name: str, root: Path, files, download: bool, cls, **split):
    """``cls(root, **split)``, with torchvision's generic failure turned into a specific error."""
    try:
        return cls(str(root), download=download, **split)
    except RuntimeError as err:  # torchvision reports missing and corrupt files alike this way
        from torchvision.datasets.utils import check_integrity

        missing = [rel for rel, _ in files if not (root / rel).is_file()]
        if missing:
            raise FileNotFoundError(_missing_message(name, root, missing, download, err)) from err
        corrupt = [str(rel) for rel, md5 in files if md5 is not None and not check_integrity(str(root / rel), md5)]
        named = f"; these fail the md5 check: {', '.join(corrupt)}" if corrupt else ""
        raise DatasetIntegrityError(
            f"{name}: torchvision rejected the files under {root} ({err}){named}; delete them and download "
            "again (download: true) or put the original files in their place"
        ) from err


def _missing_message(name: str, root: Path, missing, download: bool, err: Exception) -> str:
    listed = ", ".join(str(rel) for rel in missing)
    if download:
        return f"{name}: download into {root} was requested but these files are still missing: {listed} ({err})"
    return (
        f"{name}: searched {root} and did not find {listed}; set download: true to fetch the dataset "
        f"into {root}, or place the original files there"
    )


def _torchvision_class(class_name: str):
    # Imported on first use: torchvision takes longer to import than torch itself, and most
    # users of this package (training jobs reading prepared files) never need it.
    from torchvision import datasets

    return getattr(datasets, class_name)


def _require_root(name: str, root) -> Path:
    if root is None:
        raise ValueError(f"{name} is read from files: pass root, the directory that holds (or will hold) them")
    return Path(root)


def _build(name: str, cls, root: Path, files, train, test, class_names, integrity: str) -> DatasetTensors:
    meta = {
        "source": f"torchvision.datasets.{cls.__name__}",
        "split": OFFICIAL_SPLIT,
        "class_names": [str(c) for c in class_names],
        # Paths relative to root: the metadata must not depend on where the files were kept.
        "source_files": {rel.as_posix(): file_sha256(root / rel) for rel, _ in files if (root / rel).is_file()},
        "integrity": integrity,
    }
    return DatasetTensors.from_splits(name, *train, *test, len(class_names), meta)
