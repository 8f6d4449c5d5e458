"""scikit-learn's bundled 8x8 digits as a dataset with a fixed, recorded train/test split."""

from __future__ import annotations

import hashlib
import importlib.resources
import os

import numpy as np
import torch

from .hashing import file_sha256
from .tensors import DatasetTensors

TEST_SIZE = 360
SPLIT_SEED = 0
# The pixel values are the integers 0..16 (counts of set pixels in 4x4 blocks); 16 * 15 = 240
# keeps them exact in uint8 while using most of the 0..255 range.
PIXEL_SCALE = 15
SPLIT_RULE = (
    f"sklearn.model_selection.train_test_split(arange(1797), test_size={TEST_SIZE}, "
    f"stratify=target, random_state={SPLIT_SEED}); both index lists kept in the order returned"
)


def load_digits_dataset(root: str | os.PathLike | None = None, download: bool = False) -> DatasetTensors:
    """The 1797 digits split 1437/360, stratified by class; ``root`` and ``download`` are unused
    because the data ships with scikit-learn."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    raw = np.asarray(bunch.images)
    if not np.array_equal(raw, np.round(raw)) or raw.min() < 0 or raw.max() > 16:
        raise ValueError("scikit-learn's digits are no longer the integers 0..16; the uint8 mapping would be lossy")
    images = torch.from_numpy((raw * PIXEL_SCALE).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_SIZE, stratify=bunch.target, random_state=SPLIT_SEED
    )
    meta = {
        "source": "sklearn.datasets.load_digits",
        "class_names": [str(c) for c in bunch.target_names],
        "source_files": {"sklearn/datasets/data/digits.csv.gz": _bundled_file_sha256()},
        "pixel_mapping": f"uint8 = sklearn value (0..16) * {PIXEL_SCALE}",
        "split": SPLIT_RULE,
        "train_indices_sha256": _indices_sha256(train_idx),
        "test_indices_sha256": _indices_sha256(test_idx),
        "test_indices": [int(i) for i in test_idx],
    }
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return DatasetTensors.from_splits(
        "digits",
        images[train_idx],
        labels[train_idx],
        images[test_idx],
        labels[test_idx],
        len(bunch.target_names),
        meta,
    )


def _indices_sha256(indices: np.ndarray) -> str:
    """SHA-256 of the indices as little-endian int64, a fingerprint independent of platform."""
    return hashlib.sha256(np.asarray(indices, dtype="<i8").tobytes()).hexdigest()


def _bundled_file_sha256() -> str:
    resource = importlib.resources.files("sklearn.datasets.data") / "digits.csv.gz"
    with importlib.resources.as_file(resource) as path:
        return file_sha256(path)
