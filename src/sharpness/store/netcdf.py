"""Writing netCDF atomically, with compression, so a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

ENGINE = "netcdf4"


def write_atomic(ds: xr.Dataset, path: str | os.PathLike, complevel: int = 4) -> None:
    """Write ``ds`` zlib-compressed to a temporary file beside ``path``, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {
        name: {"zlib": True, "complevel": complevel}
        for name, var in ds.variables.items()
        if var.dtype.kind in "fiub" and var.ndim > 0
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: str | os.PathLike) -> xr.Dataset:
    """Open and load fully (so the file is closed and may be replaced afterwards)."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
