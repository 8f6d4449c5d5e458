"""SHA-256 fingerprints of files and tensors, the identities recorded in dataset metadata."""

from __future__ import annotations

import hashlib
import os

import torch

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tensor_sha256(tensor: torch.Tensor) -> str:
    """Hex SHA-256 of a tensor's dtype, shape and row-major bytes.

    Dtype and shape are hashed too, so that e.g. a (N, 1, 8, 8) and a (N, 64) view of the same
    bytes, or uint8 and int8 data, get different fingerprints.
    """
    t = tensor.detach().to("cpu").contiguous()
    digest = hashlib.sha256(f"{t.dtype}|{tuple(t.shape)}|".encode())
    # Viewing as uint8 gives a numpy-convertible byte buffer for every dtype (bfloat16 included).
    digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
