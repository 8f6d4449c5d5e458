"""The ``sharpness`` command: check configs, describe result files, list the catalogue.

    sharpness validate config.yaml configs/paper/LS-F3.yaml   # as Snakemake would, before any job
    sharpness describe results/digits-noise/digits-noise.nc   # dims, variables, units, provenance
    sharpness figures [--kind switching]                      # every figure and table id

``validate`` and ``figures`` import neither torch nor xarray.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .catalog import FIGURES, TABLES
from .config import ConfigError, Study, load_config


def validate(paths: list[str]) -> int:
    """Check each config; print its studies, or the first offending key. Exit status 1 on error."""
    failed = 0
    for path in paths:
        try:
            config = load_config(path)
        except (ConfigError, OSError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed = 1
            continue
        print(f"{path}: valid, {len(config['studies'])} studies, {len(config['figures']['plots'])} figures and tables")
        for name, cfg in config["studies"].items():
            study = Study(name, cfg)
            print(f"  {name:32s} {study.kind:10s} {cfg.get('description', '')}")
    return failed


def describe(path: str) -> int:
    """Print a netCDF result file's dimensions, variables (units, long_name) and attributes."""
    import xarray as xr

    with xr.open_dataset(path) as ds:
        print(f"{path}")
        print("dimensions: " + ", ".join(f"{d} = {n}" for d, n in ds.sizes.items()))
        for name, var in ds.variables.items():
            dims = ", ".join(var.dims) or "scalar"
            print(f"  {name:28s} ({dims}) [{var.attrs.get('units', '?')}] {var.attrs.get('long_name', '')}")
        for key, value in ds.attrs.items():
            text = str(value)
            if key == "config":
                text = json.dumps(json.loads(text), sort_keys=True)
            print(f"  @{key}: {text[:117] + '...' if len(text) > 120 else text}")
    return 0


def figures(kind: str | None) -> int:
    """Print every figure and table id the pipeline draws, with the kind of study it reads."""
    for table, catalog in ((False, FIGURES), (True, TABLES)):
        for exp_id, entry in catalog.items():
            if kind is None or entry.kind == kind:
                label = "table " if table else "figure"
                print(f"{exp_id:7s} {label} {entry.kind or 'analytic':10s} {entry.caption}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sharpness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="check configs as the workflow does").add_argument("configs", nargs="+")
    commands.add_parser("describe", help="describe a store or figure file (.nc)").add_argument("store")
    listing = commands.add_parser("figures", help="list the figure and table ids")
    listing.add_argument("--kind", choices=sorted({e.kind for e in FIGURES.values() if e.kind}))
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return validate(args.configs)
        if args.command == "describe":
            if not Path(args.store).is_file():
                parser.error(f"no file {args.store}")
            return describe(args.store)
        return figures(args.kind)
    except BrokenPipeError:  # `sharpness figures | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
