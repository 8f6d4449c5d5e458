"""Verifying study archives before ``SHA256SUMS`` lists them, and writing that file.

An archive is verified when the gzip stream and the tar headers are intact, it holds exactly
its study's three members, and the store inside matches the SHA-256 that ``provenance.json``
records for it: ``sha256sum -c`` alone would bless a file damaged before its checksum was
taken. No file name is ever handed to a shell. (No xarray here: the workflow checks archives
while it is read.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import zlib
from pathlib import Path

from .atomic import atomic_write

SUFFIX = ".tar.gz"
CHECKSUMS = "SHA256SUMS"
# A study name as the config schema allows it: an archive of any other name is no study's.
_STUDY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ArchiveError(ValueError):
    """An archive that cannot be trusted: unreadable, damaged, or not the study its name says."""


def members(study: str) -> tuple[str, str, str]:
    """An archive's members: the store, the config slice, the provenance."""
    return f"{study}/{study}.nc", f"{study}/config.yaml", f"{study}/provenance.json"


def study_of(path: str | os.PathLike) -> str | None:
    """The study an archive's file name names, or None for a name no study can have."""
    name = Path(path).name
    study = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else ""
    return study if _STUDY_NAME.match(study) else None


def verify_archive(path: str | os.PathLike) -> str:
    """Check that ``path`` is an intact archive of the study its name says; return the study.
    Raises :class:`ArchiveError` saying what is wrong."""
    study = study_of(path)
    if study is None:
        raise ArchiveError(f"{str(path)!a}: not named <study>{SUFFIX}")
    try:
        # Decompressing it all checks the gzip CRC and length; tarfile checks each header's checksum.
        raw = gzip.decompress(Path(path).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            found = {info.name: tar.extractfile(info).read() for info in tar if info.isfile()}
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise ArchiveError(f"{str(path)!a}: damaged ({type(error).__name__}: {error})") from error
    expected = set(members(study))
    if set(found) != expected:
        raise ArchiveError(f"{str(path)!a}: members {sorted(found)}, expected {sorted(expected)}")
    store, _, provenance = members(study)
    try:
        recorded = json.loads(found[provenance])
    except ValueError as error:
        raise ArchiveError(f"{str(path)!a}: {provenance} is not JSON ({error})") from error
    if recorded.get("study") != study:
        raise ArchiveError(f"{str(path)!a}: an archive of study {recorded.get('study')!r}, not of {study!r}")
    if recorded.get("store_sha256") != hashlib.sha256(found[store]).hexdigest():
        raise ArchiveError(f"{str(path)!a}: the store inside does not match the SHA-256 its provenance records")
    return study


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def listed_checksums(archive_dir: str | os.PathLike) -> dict[str, str]:
    """name → SHA-256 of the archives ``SHA256SUMS`` lists (none if there is no such file)."""
    path = Path(archive_dir, CHECKSUMS)
    if not path.is_file():
        return {}
    pairs = (line.split("  ", 1) for line in path.read_text().splitlines() if "  " in line)
    return {name: digest for digest, name in pairs}


def write_checksums(planned: list[str], out_path: str | os.PathLike, log) -> list[str]:
    """Write ``SHA256SUMS`` (``sha256sum -c`` format) over the ``planned`` archives, which must
    verify, and the other archives in the same folder that verify (other configs' studies).
    Any other file there is reported through ``log`` and the console, never listed. Returns the
    names listed."""
    out_path = Path(out_path)
    planned_names = {Path(p).name for p in planned}
    for path in planned:
        try:
            verify_archive(path)
        except ArchiveError:
            os.utime(path, (0, 0))  # older than its store: the next run rebuilds it
            raise
    listed = set(planned_names)
    for entry in sorted(out_path.parent.iterdir()):
        if entry.name in planned_names or entry.name == CHECKSUMS:
            continue
        try:
            if not entry.is_file() or entry.is_symlink():
                raise ArchiveError(f"{ascii(entry.name)}: not a regular file")
            verify_archive(entry)
            listed.add(entry.name)
        except ArchiveError as error:
            message = f"not listed in {CHECKSUMS}: {ascii(entry.name)} ({error})"
            log(message)
            print(message, file=sys.stderr)
    with atomic_write(out_path, "w") as f:
        for name in sorted(listed):
            f.write(f"{file_sha256(out_path.parent / name)}  {name}\n")
    return sorted(listed)
