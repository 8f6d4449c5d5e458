"""Writing netCDF atomically, with compression, so a reader never sees half a file."""

from __future__ import annotations

import json
import os

import xarray as xr

from ..atomic import atomic_path
from .cf import described

ENGINE = "netcdf4"


def write_atomic(ds: xr.Dataset, path: str | os.PathLike, complevel: int = 4) -> None:
    """Write ``ds`` zlib-compressed to a temporary file beside ``path``, then rename. Every
    variable and coordinate must carry CF ``units`` and ``long_name`` (well-known coordinates get
    theirs from :mod:`sharpness.store.cf`); a file without them is refused before it is written."""
    ds = described(ds, path)
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


class StoreError(ValueError):
    """A result file that is not what its reader expects (another study, another layout)."""


def check_study_store(path: str | os.PathLike, study: str, layout: int) -> None:
    """``path`` must be study ``study``'s store in layout ``layout``: a store copied from another
    study or written by older code is refused, never mixed into a figure."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        found_study, found_layout = ds.attrs.get("study"), ds.attrs.get("store_layout")
    if found_study != study:
        raise StoreError(f"{path}: a store of study {found_study!r}, not of {study!r}")
    if str(found_layout) != str(layout):
        raise StoreError(f"{path}: store layout {found_layout!r}, this code reads layout {layout}; "
                         "rebuild it (snakemake --forcerun <its collect rule>) with this code")


def check_planned_settings(path: str | os.PathLike, study: str, planned: dict) -> None:
    """``path`` must hold study ``study`` trained with the settings the config plans now: a store
    built under other settings (copied in, or left by a job that outlived its Snakemake) is
    refused, naming the keys that differ, never drawn or counted as this config's result."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        recorded = json.loads(ds.attrs.get("config", "{}"))
    planned = json.loads(json.dumps(planned))  # as the store records it (JSON)
    if recorded != planned:
        keys = sorted(k for k in set(recorded) | set(planned) if recorded.get(k) != planned.get(k))
        raise StoreError(f"{path}: study {study!r} was built with other settings than the config plans "
                         f"(they differ in {', '.join(keys)}); rebuild it: snakemake --forcerun <its collect rule>")
