"""One owner per run: a lock on a file in the run's state folder, held for the job's life.

A training job left running by a killed Snakemake (on a cluster the head process may die while
its jobs run on) would otherwise keep writing a run that a rerun trains again: two writers of
one state folder, one of them removing it under the other. The owner holds an exclusive
``flock`` on ``<state folder>/.owner``, which the kernel releases when the process dies, however
it dies. A second job of the same run waits a little for it (a requeued job may start before
the old one is gone), then refuses, naming the owner. An owner checks before it writes that
the lock file it holds is still the one in the folder; if the folder was removed or replaced
under it, it stops without writing (:class:`OwnershipLost`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import time
from pathlib import Path

LOCK_NAME = ".owner"
# How long a second job waits for the owner before refusing (a requeued job may start while
# the old one is still being ended).
WAIT_S = 10.0


class OwnershipError(RuntimeError):
    """Another live process owns the run."""


class OwnershipLost(RuntimeError):
    """This process no longer owns the run it was writing: it must stop without writing."""


class RunOwner:
    """The lock on one run's state folder (see :func:`own_run`)."""

    def __init__(self, state_dir: Path, fd: int):
        self.state_dir, self.fd = state_dir, fd
        self.lock_path = state_dir / LOCK_NAME

    def owns(self) -> bool:
        """Whether the lock this process holds is still the state folder's lock file."""
        try:
            on_disk = os.stat(self.lock_path)
        except FileNotFoundError:
            return False
        held = os.fstat(self.fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def check(self) -> None:
        if not self.owns():
            raise OwnershipLost(f"{self.state_dir}: this job no longer owns the run (its state folder was removed or "
                                "taken over); stopping without writing")


# The runs this process owns now: their state folders → their locks.
_HELD: dict[Path, RunOwner] = {}


def check_owned(path: str | os.PathLike) -> None:
    """Before writing ``path``: if it lies in the state folder of a run this process holds,
    raise :class:`OwnershipLost` unless it still owns that run (the trainers' checkpoints)."""
    for state_dir, owner in _HELD.items():
        if state_dir in Path(path).parents:
            owner.check()


def _holder(lock_path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        return "; ".join(f"{k} {v}" for k, v in json.loads(lock_path.read_text()).items() if v)
    return "unknown"


def _try_lock(state_dir: Path) -> RunOwner | None:
    """The lock, if free; None if another process holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    owner = RunOwner(state_dir, fd)
    if not owner.owns():  # the previous owner finished and removed the folder meanwhile: try again
        os.close(fd)
        return _try_lock(state_dir)
    return owner


@contextlib.contextmanager
def own_run(state_dir: str | os.PathLike, wait_s: float | None = None, poll_s: float = 0.2):
    """Hold the run of ``state_dir`` for the block; raise :class:`OwnershipError` naming the
    owner if another live process holds it for ``wait_s`` seconds (default :data:`WAIT_S`)."""
    state_dir = Path(state_dir)
    deadline = time.monotonic() + (WAIT_S if wait_s is None else wait_s)
    while (owner := _try_lock(state_dir)) is None:
        if time.monotonic() >= deadline:
            raise OwnershipError(f"{state_dir}: another job is writing this run ({_holder(state_dir / LOCK_NAME)}); "
                                 "let it finish or end it (scancel, kill), then run again")
        time.sleep(poll_s)
    try:
        info = {"pid": os.getpid(), "host": platform.node(), "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(owner.fd, 0)
        os.pwrite(owner.fd, json.dumps(info).encode(), 0)
        _HELD[state_dir] = owner
        yield owner
    finally:
        _HELD.pop(state_dir, None)
        os.close(owner.fd)  # releases the lock
