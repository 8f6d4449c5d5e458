"""Provenance recorded with every result: code version, package versions, settings."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
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


# Widest vector extension first: float results on a CPU can differ in the last bits between
# machines whose kernels use different vector widths.
_VECTOR_FLAGS = ("avx512f", "avx2", "avx", "sse4_2", "neon", "asimd")


@lru_cache(maxsize=1)
def cpu_description() -> dict:
    """The CPU model and its widest vector instruction set (and, where torch is loaded, the
    capability its kernels dispatch to), so a result names the arithmetic that produced it."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model") and value.strip():
                model = value.strip()
            elif key in ("flags", "Features"):
                flags.update(value.split())
    except OSError:
        pass
    info = {"model": model, "vector_isa": next((f for f in _VECTOR_FLAGS if f in flags), "unknown")}
    if "torch" in sys.modules:
        info["torch_cpu_capability"] = sys.modules["torch"].backends.cpu.get_cpu_capability()
    return info


def torch_threads() -> int:
    """Torch's intra-op threads where torch is loaded; else the count it would start with (run_step
    sets OMP_NUM_THREADS from the rule's threads before any import)."""
    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


# The layout of the netCDF files this code writes (variables, dims, attributes). Raise it when a
# layout changes, so that reading a file of another layout fails instead of mixing layouts.
STORE_LAYOUT = 2


def provenance_attrs(config_slice: dict | None = None, **settings) -> dict:
    """String attributes for a netCDF file: git SHA, versions, config slice and settings as JSON."""
    attrs = {
        "store_layout": str(STORE_LAYOUT),
        "git_revision": git_revision(),
        "package_versions": json.dumps(package_versions(), sort_keys=True),
        "host": platform.node(),
        "cpu": json.dumps(cpu_description(), sort_keys=True),
        # Where a cluster ran the job: ties a result to the scheduler's accounting.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        # Intra-op threads of the job: beyond the same code, torch build and CPU vector ISA,
        # the same thread count is what makes a rerun bit-identical (training is chaotic).
        "torch_threads": str(torch_threads()),
    }
    if config_slice is not None:
        attrs["config"] = json.dumps(config_slice, sort_keys=True)
    for key, value in settings.items():
        attrs[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return attrs
