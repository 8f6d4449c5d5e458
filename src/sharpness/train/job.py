"""One training job as the pipeline runs it: resume or start, train, publish outputs.

Publishing order matters for requeue safety: the resumable state is written first (outside the
declared outputs), the declared outputs are copied from it at the end, atomically.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..data import load_prepared
from ..store import provenance_attrs, write_atomic
from ..store.run import run_dataset
from . import checkpoint as ckpt
from .loop import Trainer
from .spec import RunSpec


def _usable_state(state_dir: Path, spec: RunSpec, log) -> Path | None:
    """The newest resumable checkpoint, unless it was written for other settings or by other
    training code (then the stale state is removed: the job is rerun because those changed)."""
    latest = ckpt.latest_state(state_dir)
    if latest is None:
        return None
    state = ckpt.load(latest)
    if state["prefix_key"] == spec.prefix_key(int(state["epoch"])) and state.get("code") == ckpt.code_digest():
        return latest
    log(f"discarding resumable state in {state_dir}: written for other settings or by other code")
    shutil.rmtree(state_dir)
    return None


def train_job(
    spec: RunSpec,
    data_path: str,
    state_dir: str,
    final_checkpoint: str,
    run_netcdf: str,
    keep: dict[int, str] | None = None,
    start_from: str | None = None,
    config_slice: dict | None = None,
    log=print,
) -> None:
    """Train ``spec`` and write ``run_netcdf``, ``final_checkpoint`` and the checkpoints in
    ``keep`` (epoch → path). Resumes from ``state_dir`` if a job was interrupted, else from
    ``start_from`` (a prefix run's checkpoint at the switch epoch), else from initialisation."""
    keep = dict(keep or {})
    state_dir = Path(state_dir)
    data = load_prepared(data_path)
    trainer = Trainer(spec, data, log=log)
    resume = _usable_state(state_dir, spec, log)
    if resume is not None:
        log(f"resuming from {resume}")
        trainer.restore(resume)
    elif start_from is not None:
        log(f"starting from {start_from}")
        trainer.restore(start_from, as_starting_point=True)
    history = trainer.run(state_dir, keep_epochs=keep)
    final_state = ckpt.state_path(state_dir, history.last_epoch)
    if not final_state.exists():  # the starting point was already final (or diverged)
        ckpt.save_atomic(trainer.state(), final_state)
    for epoch, path in keep.items():
        # A run that diverged before a switch epoch hands its diverged state on, so the
        # branch job records the divergence instead of failing.
        source = ckpt.state_path(state_dir, epoch)
        ckpt.copy_atomic(source if source.exists() else final_state, path)
    ckpt.copy_atomic(final_state, final_checkpoint)
    attrs = provenance_attrs(config_slice, run_spec=spec.to_dict(), dataset_sha256=data.meta.get("sha256", ""))
    write_atomic(run_dataset(history, spec, attrs), run_netcdf)
    # Finished: the resumable state has served its purpose. Keeping it would let a later,
    # deliberate rerun (changed code, --forcerun) "resume" a run that is already complete.
    shutil.rmtree(state_dir, ignore_errors=True)
    log(f"done: epoch {history.last_epoch} of {spec.epochs} (continued from epoch {history.start_epoch}), diverged={history.diverged}")
