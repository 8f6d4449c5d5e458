"""Archiving a study: the store, figure data, tables, the config slice and provenance, one tarball."""

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


def write_archive(out_path: str, store: str, figure_data: list[str], tables: list[str], study_cfg: dict, study: str) -> list[str]:
    """Write ``<study>.tar.gz`` atomically; members sit under ``<study>/``. Returns their names."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    provenance = {"study": study, "git_revision": git_revision(), "package_versions": package_versions()}
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    contents = {f"{study}/{Path(store).name}": Path(store).read_bytes()}
    contents.update({f"{study}/figures/{Path(p).name}": Path(p).read_bytes() for p in figure_data})
    contents.update({f"{study}/tables/{Path(p).name}": Path(p).read_bytes() for p in tables})
    contents[f"{study}/config.yaml"] = yaml.safe_dump({"studies": {study: study_cfg}}, sort_keys=False).encode()
    contents[f"{study}/provenance.json"] = json.dumps(provenance, indent=2, sort_keys=True).encode()
    with tarfile.open(tmp, "w:gz") as tar:
        for name, payload in contents.items():
            _add_bytes(tar, name, payload)
    os.replace(tmp, out_path)
    return list(contents)
