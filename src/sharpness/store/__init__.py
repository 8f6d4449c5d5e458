"""Result stores: per-run and per-study netCDF files, atomic writes, provenance."""

from .netcdf import read, write_atomic
from .provenance import git_revision, package_versions, provenance_attrs

__all__ = ["read", "write_atomic", "git_revision", "package_versions", "provenance_attrs"]
