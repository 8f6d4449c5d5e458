"""Atomic file replacement: readers see the old file or the complete new one, never a torn one.

Every file the pipeline publishes (datasets, checkpoints, stores, figures, tables, archives) is
written to a temporary file in the destination directory (``os.replace`` is atomic only within
one file system), flushed to disk, given the permissions the user's umask asks for (mkstemp
creates 0600 files, unreadable to collaborators on a shared cluster), then renamed; the
directory is synced too, so a crash cannot leave a renamed but empty file. If writing fails,
the temporary file is removed; if the process was killed, the next write of the file removes it.
A temporary's name carries its writer's process id and host, so only one whose writer is gone
is removed, never another process's write in progress: on this host, when no process of that
id runs; from another host (which cannot be asked), once untouched for an hour. (A lock on the
file cannot say it: HDF5 takes its own lock on the files netCDF writes.)

A write that fails on a full disk says so, naming the file: netCDF's HDF layer reports only
"HDF error", so any failure while the file system has (almost) no space left is reported as
the disk being full.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import platform
import re
import time
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


# This host, short: temporaries are named ".<file>.<pid>-<host>.<random>.tmp".
_HOST = hashlib.sha256(platform.node().encode()).hexdigest()[:8]
_WRITER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.[^.]+\.tmp$")
# Untouched this long, a temporary written from another host is taken to be abandoned.
_FOREIGN_STALE_S = 3600


def _temporary_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-{_HOST}."


def longest_temporary_name(name: str) -> int:
    """Bytes in the name of a temporary file written for ``name`` (the file system's limit on a
    name, 255 bytes on most, applies to it): the largest process id and mkstemp's 8 characters."""
    return len(f".{name}.{'9' * 7}-{_HOST}.{'x' * 8}.tmp".encode())


def _writer_gone(temporary: Path) -> bool:
    """Whether the process that wrote ``temporary`` has ended (see the module's docstring)."""
    match = _WRITER.match(temporary.name)
    if match is None:
        return True  # an earlier version's name, without its writer: from a process long gone
    if match["host"] != _HOST:
        with contextlib.suppress(FileNotFoundError):
            return time.time() - temporary.stat().st_mtime > _FOREIGN_STALE_S
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of earlier writes of ``path`` whose process was killed mid-write (no
    ``except`` ran): the next write of the same file removes them, so none stays for good.
    One whose writer still runs is left alone."""
    if path.parent.is_dir():
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if _writer_gone(stale):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()


# Free space below which a failed write is taken to be the disk filling up.
_NEARLY_FULL_BYTES = 16 * 2**20


def _disk_full(path: Path, error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # The disk filling up surfaces as OSError, or as RuntimeError from netCDF/HDF5 and torch.save.
    if not isinstance(error, (OSError, RuntimeError)):
        return False
    try:
        fs = os.statvfs(path.parent)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < _NEARLY_FULL_BYTES


class DiskFullError(OSError):
    """A write that failed because the file system holding it is full."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path`` for a writer that needs a file name (netCDF,
    ``torch.save``, ``savefig``); it replaces ``path`` only if the block finishes."""
    path = Path(path)
    _remove_stale_temporaries(path)
    for attempt in range(3):  # a finished job may remove an empty parent meanwhile: make it again
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path.name), suffix=".tmp")
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    os.close(fd)
    try:
        yield tmp
        _publish(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _disk_full(path, error):
            raise DiskFullError(errno.ENOSPC, f"disk full: could not write {path} ({type(error).__name__}: {error})",
                                str(path)) from error
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Yield a file object whose contents replace ``path`` only if the block finishes."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
