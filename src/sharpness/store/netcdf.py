"""Writing netCDF atomically, with compression, so a reader never sees half a file."""

from __future__ import annotations

import os

import xarray as xr

from ..atomic import atomic_path

ENGINE = "netcdf4"


def write_atomic(ds: xr.Dataset, path: str | os.PathLike, complevel: int = 4) -> None:
    """Write ``ds`` zlib-compressed to a temporary file beside ``path``, then rename."""
    encoding = {
        name: {"zlib": True, "complevel": complevel}
        for name, var in ds.variables.items()
        if var.dtype.kind in "fiub" and var.ndim > 0
    }
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)


def read(path: str | os.PathLike) -> xr.Dataset:
    """Open and load fully (so the file is closed and may be replaced afterwards)."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
