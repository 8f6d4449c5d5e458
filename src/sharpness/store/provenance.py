"""Provenance recorded with every result: code version, package versions, settings."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

_PACKAGES = ("sharpness", "torch", "torchvision", "numpy", "xarray", "netCDF4", "scikit-learn", "snakemake")


@lru_cache(maxsize=1)
def git_revision() -> str:
    """HEAD's SHA, with '-dirty' when tracked files differ; 'unknown' outside a checkout."""
    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


@lru_cache(maxsize=1)
def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance_attrs(config_slice: dict | None = None, **settings) -> dict:
    """String attributes for a netCDF file: git SHA, versions, config slice and settings as JSON."""
    attrs = {
        "git_revision": git_revision(),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "host": platform.node(),
        # Where a cluster ran the job: ties a result to the scheduler's accounting.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
    }
    if config_slice is not None:
        attrs["config"] = json.dumps(config_slice, sort_keys=True)
    for key, value in settings.items():
        attrs[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return attrs
