"""Atomic file replacement: readers see the old file or the complete new one, never a torn one.

Every file the pipeline publishes (datasets, checkpoints, stores, figures, tables, archives) is
written to a temporary file in the destination directory (``os.replace`` is atomic only within
one file system), flushed to disk, given the permissions the user's umask asks for (mkstemp
creates 0600 files, unreadable to collaborators on a shared cluster), then renamed; the
directory is synced too, so a crash cannot leave a renamed but empty file. If writing fails,
the temporary file is removed; if the process was killed, the next write of the file removes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(tmp: str, path: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # not every file system lets a directory be synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of earlier writes of ``path`` whose process was killed mid-write (no
    ``except`` ran): the next write of the same file removes them, so none stays for good."""
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path`` for a writer that needs a file name (netCDF,
    ``torch.save``, ``savefig``); it replaces ``path`` only if the block finishes."""
    path = Path(path)
    _remove_stale_temporaries(path)
    for attempt in range(3):  # a finished job may remove an empty parent meanwhile: make it again
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    os.close(fd)
    try:
        yield tmp
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Yield a file object whose contents replace ``path`` only if the block finishes."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
