"""One training job as the pipeline runs it: resume or start, train, publish outputs.

Publishing order matters for requeue safety: the resumable state is written first (outside the
declared outputs), the declared outputs are copied from it at the end, atomically. The same
job runs an epoch-based :class:`~sharpness.train.loop.Trainer` and a step-based trainer: both
count positions in their own ``unit`` and write their own run file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..data import load_prepared
from ..runspec import RunSpec
from ..store import provenance_attrs, write_atomic
from . import checkpoint as ckpt
from .loop import Trainer
from .ownership import LOCK_NAME, own_run


def _usable_state(trainer, state_dir: Path, log) -> Path | None:
    """The newest resumable checkpoint that loads intact; a damaged one (a job killed while the
    disk filled, a flipped byte) is reported by name and set aside, and the one before it is
    tried. State written for other settings or by other training code is removed: the job is
    rerun because those changed."""
    while (latest := ckpt.latest_state(state_dir, trainer.unit)) is not None:
        try:
            state = ckpt.load(latest)
        except ckpt.CheckpointError as error:
            log(f"{error}; setting it aside as {latest.name}.damaged and trying the state before it")
            latest.replace(latest.with_name(latest.name + ".damaged"))
            continue
        if trainer.accepts(state):
            return latest
        log(f"discarding resumable state in {state_dir}: written for other settings or by other code")
        _clear_state(state_dir)
        return None
    return None


def _clear_state(state_dir: Path) -> None:
    """Remove a run's resumable state but not its owner's lock file (see :mod:`.ownership`)."""
    for entry in state_dir.iterdir():
        if entry.name != LOCK_NAME:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _kept_source(trainer, state_dir: Path, position: int, final_state: Path) -> Path:
    """The state to publish as the kept checkpoint at ``position``: the run's own state there;
    the final state only when the run diverged and stopped before it (the branch job then
    records the divergence instead of failing). Never another position's state otherwise."""
    source = ckpt.state_path(state_dir, position, trainer.unit)
    if source.exists():
        return source
    if trainer.history.diverged and trainer.position < position:
        return final_state
    raise ckpt.CheckpointError(f"{source}: the state at {trainer.unit} {position} is missing, and the run reached "
                               f"{trainer.unit} {trainer.position} without diverging; the kept checkpoint is not written "
                               "from another position's state (the run must be trained again: remove its state folder)")


def run_job(trainer, state_dir: str, final_checkpoint: str, run_netcdf: str, attrs: dict,
            keep: dict[int, str] | None = None, start_from: str | None = None, log=print) -> None:
    """Train and write ``run_netcdf`` (the trainer's ``run_dataset(attrs)``), ``final_checkpoint``
    and the checkpoints in ``keep`` (position → path). Resumes from ``state_dir`` if a job was
    interrupted, else from ``start_from`` (a prefix run's checkpoint at the switch), else from
    initialisation. The job owns the run while it runs (:func:`~.ownership.own_run`): a second
    job of the same run waits, then refuses; one that lost the run stops without writing."""
    keep = dict(keep or {})
    state_dir = Path(state_dir)
    with own_run(state_dir) as owner:
        resume = _usable_state(trainer, state_dir, log)
        if resume is not None:
            log(f"resuming from {resume}")
            trainer.restore(resume)
        elif start_from is not None:
            log(f"starting from {start_from}")
            trainer.restore(start_from, as_starting_point=True)
        trainer.run(state_dir, keep)
        final_state = ckpt.state_path(state_dir, trainer.position, trainer.unit)
        if not final_state.exists():  # the starting point was already final (or diverged)
            ckpt.save_atomic(trainer.state(), final_state)
        for position, path in keep.items():
            owner.check()
            ckpt.copy_atomic(_kept_source(trainer, state_dir, position, final_state), path)
        owner.check()
        ckpt.copy_atomic(final_state, final_checkpoint)
        owner.check()
        write_atomic(trainer.run_dataset(attrs), run_netcdf)
        # Finished: the resumable state has served its purpose. Keeping it would let a later,
        # deliberate rerun (changed code, --forcerun) "resume" a run that is already complete.
        # Removed while the lock is held: a job waiting for it then finds no folder and starts
        # a fresh one (the outputs it rewrites are the same).
        shutil.rmtree(state_dir, ignore_errors=True)
    _remove_empty_parents(state_dir)
    log(trainer.summary())


def _remove_empty_parents(state_dir: Path) -> None:
    """Remove the folders above a finished run's state up to ``.state`` itself while they are
    empty (other runs of the study may still be writing theirs)."""
    for parent in state_dir.parents:
        try:
            parent.rmdir()  # only succeeds when empty
        except OSError:
            return
        if parent.name == ".state":
            return


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
    """Train the epoch-based run ``spec`` as one job (see :func:`run_job`)."""
    data = load_prepared(data_path, preprocess=spec.dataset.get("preprocess", "standardize"))
    trainer = Trainer(spec, data, log=log)
    attrs = provenance_attrs(config_slice, run_spec=spec.to_dict(), dataset_sha256=data.meta.get("sha256", ""))
    run_job(trainer, state_dir, final_checkpoint, run_netcdf, attrs, keep=keep, start_from=start_from, log=log)

