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
from functools import lru_cache
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..imports import import_closure

# The parts of the package whose code can change a trajectory: resumable state from other code is stale.
_TRAJECTORY_CODE = ("data", "models", "optim", "train", "runspec.py")


@lru_cache(maxsize=None)
def code_digest(trainer_module: str = "sharpness.train.loop") -> str:
    """SHA-256 over the source files of the trainer's import closure that can change a trajectory."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in import_closure(trainer_module):
        relative = path.relative_to(root)
        if relative.parts[0] in _TRAJECTORY_CODE:
            digest.update(relative.as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def save_atomic(obj, path: str | os.PathLike) -> None:
    """torch.save to a temporary file beside ``path``, synced, then renamed over it."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: str | os.PathLike) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _states(state_dir: Path, unit: str) -> list[tuple[int, Path]]:
    """(position, path) of the resumable states ``<unit><n>.pt`` in ``state_dir``."""
    if not state_dir.is_dir():
        return []
    name = re.compile(rf"^{unit}(\d+)\.pt$")
    return [(int(m.group(1)), p) for p in state_dir.iterdir() if (m := name.match(p.name))]


def latest_state(state_dir: str | os.PathLike, unit: str = "epoch") -> Path | None:
    """The resumable checkpoint with the highest epoch (or step) in ``state_dir``, if any."""
    found = _states(Path(state_dir), unit)
    return max(found)[1] if found else None


def state_path(state_dir: str | os.PathLike, position: int, unit: str = "epoch") -> Path:
    return Path(state_dir) / f"{unit}{position}.pt"


def prune_states(state_dir: str | os.PathLike, keep: set[int], unit: str = "epoch") -> None:
    """Delete resumable checkpoints except the newest and the positions in ``keep``."""
    found = _states(Path(state_dir), unit)
    newest = max(found)[1] if found else None
    for position, p in found:
        if p != newest and position not in keep:
            p.unlink()
