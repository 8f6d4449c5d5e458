"""Datasets as whole uint8 tensors: loading by name, subsets, prepared files, augmentation."""

from .augment import Augmentation, augment_batch, cutout, random_crop, random_flip
from .errors import DatasetIntegrityError
from .hashing import file_sha256, tensor_sha256
from .prepared import load_prepared, prepare_dataset, sidecar_path
from .registry import DATASETS, load_dataset
from .subset import select_subset
from .tensors import DatasetTensors, channel_mean_std

__all__ = [
    "DATASETS",
    "Augmentation",
    "DatasetIntegrityError",
    "DatasetTensors",
    "augment_batch",
    "channel_mean_std",
    "cutout",
    "file_sha256",
    "load_dataset",
    "load_prepared",
    "prepare_dataset",
    "random_crop",
    "random_flip",
    "select_subset",
    "sidecar_path",
    "tensor_sha256",
]
