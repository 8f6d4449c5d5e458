"""Checkpoints: atomic writes, safe loads, and the resumable-state directory of a run.

A checkpoint is data, not code: it holds tensors, numbers, strings, lists and dicts only and is
read with ``weights_only=True``. Resumable state lives in a directory that is *not* a declared
Snakemake output (Snakemake deletes the outputs of failed jobs), so a killed or requeued job
finds it again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import torch

_STATE_NAME = re.compile(r"epoch(\d+)\.pt$")
# The subpackages whose code determines a trajectory: resumable state from other code is stale.
_TRAJECTORY_CODE = ("data", "models", "optim", "train")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the source files that determine a training trajectory."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for sub in _TRAJECTORY_CODE:
        for path in sorted((root / sub).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def save_atomic(obj, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same directory, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def latest_state(state_dir: str | os.PathLike) -> Path | None:
    """The resumable checkpoint with the highest epoch in ``state_dir``, if any."""
    state_dir = Path(state_dir)
    if not state_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in state_dir.iterdir() if (m := _STATE_NAME.search(p.name))]
    return max(found)[1] if found else None


def state_path(state_dir: str | os.PathLike, epoch: int) -> Path:
    return Path(state_dir) / f"epoch{epoch}.pt"


def prune_states(state_dir: str | os.PathLike, keep: set[int]) -> None:
    """Delete resumable checkpoints except the newest and the epochs in ``keep``."""
    newest = latest_state(state_dir)
    for p in Path(state_dir).glob("epoch*.pt"):
        m = _STATE_NAME.search(p.name)
        if m and p != newest and int(m.group(1)) not in keep:
            p.unlink()
