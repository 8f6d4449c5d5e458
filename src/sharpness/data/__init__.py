"""Datasets as whole tensors: uint8 images or int64 character windows, loaded by name, subsets,
prepared files, augmentation."""

from .augment import Augmentation, augment_batch, cutout, random_crop, random_flip
from .errors import DatasetIntegrityError
from .hashing import file_sha256, tensor_sha256
from .prepared import load_prepared, prepare_dataset, sidecar_path
from .registry import DATASETS, SEQUENCE_DATASETS, load_dataset
from .subset import select_subset
from .tensors import DatasetTensors, channel_mean_std
from .text import DEFAULT_CONTEXT, SequenceTensors, encode_text, split_last_lines

__all__ = [
    "DATASETS",
    "DEFAULT_CONTEXT",
    "SEQUENCE_DATASETS",
    "Augmentation",
    "DatasetIntegrityError",
    "DatasetTensors",
    "SequenceTensors",
    "augment_batch",
    "channel_mean_std",
    "cutout",
    "encode_text",
    "file_sha256",
    "load_dataset",
    "load_prepared",
    "prepare_dataset",
    "random_crop",
    "random_flip",
    "select_subset",
    "sidecar_path",
    "split_last_lines",
    "tensor_sha256",
]
