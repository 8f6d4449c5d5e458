"""``sharpness describe FILE``: what a file the pipeline wrote holds, for every kind it writes.

netCDF stores and figure data (dimensions, variables with units, provenance), tables (``.csv``
columns and rows, ``.md`` as written), study archives (``.tar.gz``: members, and the store's
attributes read from inside), checkpoints and prepared datasets (``.pt``: keys, epoch, prefix
key; read with ``weights_only=True``, so no code in the file runs) and their ``.json`` sidecars.
Any other file gets a sentence saying which kinds it reads, never a traceback.
"""

from __future__ import annotations

import csv
import json
import tarfile
import tempfile
from pathlib import Path

KINDS = (".nc", ".csv", ".md", ".tar.gz", ".pt", ".json")


def _short(text: str, width: int = 120) -> str:
    return text[: width - 3] + "..." if len(text) > width else text


def netcdf(path: str) -> list[str]:
    import xarray as xr

    with xr.open_dataset(path) as ds:
        lines = ["dimensions: " + ", ".join(f"{d} = {n}" for d, n in ds.sizes.items())]
        for name, var in ds.variables.items():
            dims = ", ".join(var.dims) or "scalar"
            lines.append(f"  {name:28s} ({dims}) [{var.attrs.get('units', '?')}] {var.attrs.get('long_name', '')}")
        for key, value in ds.attrs.items():
            text = json.dumps(json.loads(value), sort_keys=True) if key == "config" else str(value)
            lines.append(f"  @{key}: {_short(text)}")
    return lines


def table_csv(path: str) -> list[str]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return [f"table: {len(body)} rows × {len(header)} columns", "columns: " + ", ".join(header),
            *(f"  {_short(', '.join(row))}" for row in body[:5]), *(["  ..."] if len(body) > 5 else [])]


def table_md(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def archive(path: str) -> list[str]:
    with tarfile.open(path) as tar, tempfile.TemporaryDirectory() as tmp:
        members = [m for m in tar.getmembers() if m.isfile()]
        lines = [f"archive: {len(members)} files"] + [f"  {m.name:40s} {m.size:>12,d} bytes" for m in members]
        for member in members:
            if member.name.endswith(".nc"):
                tar.extract(member, tmp, filter="data")
                lines += [f"store {member.name}:", *("  " + line for line in netcdf(str(Path(tmp, member.name))))]
    return lines


def checkpoint(path: str) -> list[str]:
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        return [f"a {type(obj).__name__}, not a dict of tensors"]
    lines = [f"keys: {', '.join(map(str, obj))}"]
    for key in ("epoch", "step", "prefix_key", "code", "sha256"):
        if key in obj:
            lines.append(f"  {key}: {_short(str(obj[key]))}")
    for key, value in obj.items():
        if isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values()):
            n = sum(v.numel() for v in value.values())
            lines.append(f"  {key}: {len(value)} tensors, {n:,d} numbers")
        elif isinstance(value, torch.Tensor):
            lines.append(f"  {key}: tensor {tuple(value.shape)} {value.dtype}")
    return lines


def sidecar(path: str) -> list[str]:
    return json.dumps(json.loads(Path(path).read_text()), indent=2, sort_keys=True).splitlines()


READERS = {".nc": netcdf, ".csv": table_csv, ".md": table_md, ".tar.gz": archive, ".pt": checkpoint, ".json": sidecar}


def describe(path: str) -> list[str]:
    """The description of ``path``; ValueError for a kind of file it does not read."""
    for suffix, reader in READERS.items():
        if path.endswith(suffix):
            return [path, *reader(path)]
    raise ValueError(f"{path}: sharpness describe reads {', '.join(KINDS)} files (what the pipeline writes)")
