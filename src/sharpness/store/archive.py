"""Archiving a study: the store, the figure data, the config slice and provenance, one tarball."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import yaml

from .provenance import git_revision, package_versions


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    tar.addfile(info, io.BytesIO(payload))


def write_archive(out_path: str, store: str, figure_data: list[str], study_cfg: dict, study: str) -> list[str]:
    """Write ``<study>.tar.gz`` atomically; members sit under ``<study>/``. Returns their names."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    provenance = {"study": study, "git_revision": git_revision(), "package_versions": package_versions()}
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    members = []
    with tarfile.open(tmp, "w:gz") as tar:
        for path in [store, *figure_data]:
            name = f"{study}/{'figures/' if path != store else ''}{Path(path).name}"
            _add_bytes(tar, name, Path(path).read_bytes())
            members.append(name)
        for name, payload in (
            (f"{study}/config.yaml", yaml.safe_dump({"studies": {study: study_cfg}}, sort_keys=False).encode()),
            (f"{study}/provenance.json", json.dumps(provenance, indent=2, sort_keys=True).encode()),
        ):
            _add_bytes(tar, name, payload)
            members.append(name)
    os.replace(tmp, out_path)
    return members
