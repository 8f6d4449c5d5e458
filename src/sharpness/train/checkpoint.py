"""Checkpoints: atomic writes, safe loads, and the resumable-state directory of a run.

A checkpoint is data, not code: it holds tensors, numbers, strings, lists and dicts only and is
read with ``weights_only=True``. Resumable state lives in a directory that is *not* a declared
Snakemake output (Snakemake deletes the outputs of failed jobs), so a killed or requeued job
finds it again.

Every checkpoint carries a SHA-256 of its contents (``sha256``; torch does not check the zip's
CRCs, so a flipped byte would otherwise load as a wrong weight) and the prefix key of the run
that wrote it. :func:`load` verifies the checksum: a damaged or truncated file raises
:class:`CheckpointError` naming the file. Each reader checks the prefix key against the run it
expects at the checkpoint's own position (the trainers' ``restore``/``accepts``, the Hessian
steps through :func:`load_run_state`), so another run's file copied into place is refused too.
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
from ..code_digest import files_digest
from ..imports import PACKAGE_DIR, import_closure
from .ownership import check_owned

# The parts of the package whose code can change a trajectory: resumable state from other code is stale.
_TRAJECTORY_CODE = ("data", "models", "optim", "train", "runspec.py")


@lru_cache(maxsize=None)
def code_digest(trainer_module: str = "sharpness.train.loop") -> str:
    """SHA-256 over the code (syntax trees without docstrings, as the workflow's code inputs:
    :mod:`sharpness.code_digest`) of the trainer's import closure that can change a trajectory."""
    return files_digest(p for p in import_closure(trainer_module) if p.relative_to(PACKAGE_DIR).parts[0] in _TRAJECTORY_CODE)


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted: unreadable, damaged, or written by another run."""


def content_digest(obj) -> str:
    """SHA-256 over a checkpoint's contents in a canonical order (dict keys sorted, tensors by
    dtype, shape and bytes), independent of how torch lays the file out."""
    digest = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(value, dict):
            digest.update(b"{")
            for key in sorted(value, key=str):
                digest.update(repr(key).encode())
                feed(value[key])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[")
            for item in value:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(repr(value).encode())

    feed(obj)
    return digest.hexdigest()


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """torch.save ``obj`` with its content digest to a temporary file beside ``path``, synced,
    then renamed over it; not into a run folder this process no longer owns (:mod:`.ownership`)."""
    check_owned(path)
    payload = {k: v for k, v in obj.items() if k != "sha256"}
    with atomic_path(path) as tmp:
        torch.save({**payload, "sha256": content_digest(payload)}, tmp)


def load(path: str | os.PathLike) -> dict:
    """Read a checkpoint, verifying its checksum (the caller checks whose it is)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated or garbled: torch raises several kinds
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(state, dict) or "sha256" not in state:
        raise CheckpointError(f"{path}: not a checkpoint of this pipeline (no checksum)")
    stored = state.pop("sha256")
    if content_digest(state) != stored:
        raise CheckpointError(f"{path}: contents do not match their checksum: the file is damaged")
    return state


def load_run_state(path: str | os.PathLike, spec, epoch: int) -> dict:
    """The checkpoint of run ``spec`` (a :class:`~sharpness.runspec.RunSpec`) at ``epoch``,
    verified: intact, and written by this run (its trajectory up to the checkpoint's epoch); at
    an earlier epoch only if the run diverged there and stopped."""
    state = load(path)
    written = int(state["epoch"])
    if state.get("prefix_key") != spec.prefix_key(written) or (written != epoch and not state["history"]["diverged"]):
        raise CheckpointError(f"{path}: written by another run (or at another epoch) than the one expected here, epoch {epoch}")
    return state


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
