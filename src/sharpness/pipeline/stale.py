"""Results Snakemake would take as up to date although they are not, marked for rebuild while
the workflow is read (before the DAG is built), so a plain run rebuilds them.

Snakemake decides from file times and its own records: a planned archive damaged after it was
built, or a checkpoint folder that lost a kept checkpoint (a directory output: Snakemake does
not look inside), would otherwise stay as they are. Marking dates the output back to the epoch,
older than its inputs; that is harmless in a dry run (which then lists the job), and a rebuild
gives the output a fresh time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..archive_check import ArchiveError, file_sha256, listed_checksums, verify_archive


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def mark_for_rebuild(path: str | os.PathLike) -> None:
    """Date ``path`` (a file, or the timestamp Snakemake keeps in a directory output) to the epoch."""
    path = Path(path)
    stamp = path / ".snakemake_timestamp"
    os.utime(stamp if path.is_dir() and stamp.exists() else path, (0, 0))


def mark_damaged_archives(planned: list[str], warn=_warn) -> list[str]:
    """The planned archives that exist and fail verification, reported and marked. One that
    ``SHA256SUMS`` lists is taken as intact while its bytes still hash to the listed sum: it was
    verified before it was listed."""
    damaged = []
    for name in planned:
        path = Path(name)
        if not path.is_file() or listed_checksums(path.parent).get(path.name) == file_sha256(path):
            continue
        try:
            verify_archive(path)
        except ArchiveError as error:
            warn(f"{error}; rebuilding it from its store")
            mark_for_rebuild(path)
            damaged.append(name)
    return damaged


def mark_incomplete_checkpoint_folders(kept: dict[str, list[str]], warn=_warn) -> list[str]:
    """The checkpoint folders (folder → the files it must hold) that exist but miss a file,
    reported and marked, so the prefix run that fills them runs again."""
    incomplete = []
    for folder, files in kept.items():
        missing = [f for f in files if not Path(f).is_file()]
        if Path(folder).is_dir() and missing:
            warn(f"{folder}: kept checkpoints missing ({', '.join(Path(f).name for f in missing)}); retraining its run")
            mark_for_rebuild(folder)
            incomplete.append(folder)
    return incomplete
