"""Result stores: per-run and per-study netCDF files, atomic writes, provenance."""

from .netcdf import StoreError, check_planned_settings, check_study_store, read, write_atomic
from .provenance import STORE_LAYOUT, git_revision, package_versions, provenance_attrs

__all__ = ["STORE_LAYOUT", "StoreError", "check_planned_settings", "check_study_store", "read", "write_atomic", "git_revision", "package_versions", "provenance_attrs"]
