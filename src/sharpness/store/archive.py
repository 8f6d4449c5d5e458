"""Archiving a study: its store, config slice and provenance, one tarball.

Figures and tables are not in it: which figures use a study depends on the config that draws
them, and a study's archive must not change when another config is run. The archive is
byte-identical when rebuilt from the same inputs (no timestamps in the tar or gzip headers).
The provenance records the store's SHA-256, so an archive can be verified on its own
(:mod:`sharpness.archive_check`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import yaml

from ..archive_check import members
from ..atomic import atomic_write
from .provenance import git_revision, package_versions


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    tar.addfile(info, io.BytesIO(payload))


def write_archive(out_path: str, store: str, study_cfg: dict, study: str) -> list[str]:
    """Write ``<study>.tar.gz`` atomically; members sit under ``<study>/``. Returns their names."""
    store_bytes = Path(store).read_bytes()
    provenance = {"study": study, "git_revision": git_revision(), "package_versions": package_versions(),
                  "store_sha256": hashlib.sha256(store_bytes).hexdigest()}
    store_member, config_member, provenance_member = members(study)
    contents = {
        store_member: store_bytes,
        config_member: yaml.safe_dump({"studies": {study: study_cfg}}, sort_keys=False).encode(),
        provenance_member: json.dumps(provenance, indent=2, sort_keys=True).encode(),
    }
    with atomic_write(out_path) as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, payload in contents.items():
                _add_bytes(tar, name, payload)
    return list(contents)
