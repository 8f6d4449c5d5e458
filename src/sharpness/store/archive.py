"""Archiving a study: its store, config slice and provenance, one tarball.

Figures and tables are not in it: which figures use a study depends on the config that draws
them, and a study's archive must not change when another config is run. The archive is
byte-identical when rebuilt from the same inputs (no timestamps in the tar or gzip headers)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import yaml

from ..atomic import atomic_write
from .provenance import git_revision, package_versions


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    tar.addfile(info, io.BytesIO(payload))


def write_archive(out_path: str, store: str, study_cfg: dict, study: str) -> list[str]:
    """Write ``<study>.tar.gz`` atomically; members sit under ``<study>/``. Returns their names."""
    provenance = {"study": study, "git_revision": git_revision(), "package_versions": package_versions()}
    contents = {f"{study}/{Path(store).name}": Path(store).read_bytes()}
    contents[f"{study}/config.yaml"] = yaml.safe_dump({"studies": {study: study_cfg}}, sort_keys=False).encode()
    contents[f"{study}/provenance.json"] = json.dumps(provenance, indent=2, sort_keys=True).encode()
    with atomic_write(out_path) as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, payload in contents.items():
                _add_bytes(tar, name, payload)
    return list(contents)
