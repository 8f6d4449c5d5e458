"""The ``sharpness`` command: check configs, describe result files, list the catalogue.

    sharpness validate config.yaml configs/paper/LS-F3.yaml   # as Snakemake would, before any job
    sharpness describe results/digits-noise/digits-noise.nc   # dims, variables, units, provenance
    sharpness describe results/archive/digits-noise.tar.gz    # also tables, archives, checkpoints
    sharpness figures [--kind switching]                      # every figure and table id
    sharpness catalog --markdown docs/experiments.md          # the catalogue: papers, settings, configs
    sharpness claims [results] [--verdict "not reproduced"]   # the claims ledger of a run
    sharpness claims --readme README.md                       # rewrite the README's generated block
    sharpness plan configs/paper/*.yaml [--gpu TABLE.json]     # jobs, epochs, GPU-hours before a run

``validate`` and ``figures`` import neither torch nor xarray.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .atomic import atomic_write
from .catalog import FIGURES, TABLES
from .config import ConfigError, Study, load_config
from .describe import describe as describe_file
from .experiments import markdown
from .plan import ThroughputTable, plan, render


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
    """Print what a result file holds (sharpness.describe); exit status 2 for a file it cannot read."""
    try:
        print("\n".join(describe_file(path)))
    except Exception as error:  # a damaged or foreign file: say so, no traceback
        print(f"{path}: cannot describe it: {error}", file=sys.stderr)
        return 2
    return 0


def figures(kind: str | None) -> int:
    """Print every figure and table id the pipeline draws, with the kind of study it reads."""
    for table, catalog in ((False, FIGURES), (True, TABLES)):
        for exp_id, entry in catalog.items():
            if kind is None or entry.kind == kind:
                label = "table " if table else "figure"
                print(f"{exp_id:7s} {label} {entry.kind or 'analytic':10s} {entry.caption}")
    return 0


def claims(results: str, namespace: str, verdict: str | None, readme: str | None) -> int:
    """Print the claims ledger of a run, or rewrite the README's generated block from it."""
    # Loaded here, not at the top: the claims import xarray and scipy, which the other commands do not need.
    text, store = importlib.import_module("sharpness.claims.markdown"), importlib.import_module("sharpness.store")
    path = Path(results) / (f"claims-{namespace}.nc" if namespace else "claims.nc")
    if not path.is_file():
        run = "run `make run` first" if not namespace else f"run a config with figures.namespace: {namespace} first"
        print(f"no claims ledger {path}: {run}", file=sys.stderr)
        return 1
    if verdict is not None and verdict not in text.VERDICTS:
        print(f"--verdict {verdict!r}: one of {', '.join(text.VERDICTS)}", file=sys.stderr)
        return 1
    ledger = store.read(path)
    if verdict is not None:
        ledger = ledger.isel(row=ledger.verdict.values == verdict)
    if readme is None:
        print(text.render_markdown(ledger), end="")
        return 0
    try:
        rewritten = text.replace_readme_block(Path(readme).read_text(), text.readme_block(ledger, f"results/{path.name}"))
    except ValueError as error:
        print(f"{readme}: {error}", file=sys.stderr)
        return 1
    with atomic_write(readme, "w") as f:
        f.write(rewritten)
    print(f"{readme}: claims block rewritten from {path} ({ledger.sizes['row']} rows)")
    return 0


def cost_plan(paths: list[str], gpu_table: str | None) -> int:
    """Print what the configs cost: per study and in total (each study once)."""
    table = ThroughputTable.read(gpu_table) if gpu_table else None
    try:
        configs = {path: load_config(path) for path in paths}
    except (ConfigError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    print(render(plan(configs, table), table))
    return 0


def write_catalog(root: str, path: str | None) -> int:
    """Print the experiment catalogue, or write it to ``path``."""
    text = markdown(root)
    if path is None:
        sys.stdout.write(text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sharpness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="check configs as the workflow does").add_argument("configs", nargs="+")
    commands.add_parser("describe", help="describe a result file (.nc, .csv, .md, .tar.gz, .pt, .json)").add_argument("store")
    listing = commands.add_parser("figures", help="list the figure and table ids")
    listing.add_argument("--kind", choices=sorted({e.kind for e in FIGURES.values() if e.kind}))
    catalog = commands.add_parser("catalog", help="the experiment catalogue as Markdown (docs/experiments.md)")
    catalog.add_argument("--markdown", metavar="FILE", help="write it to FILE (default: print it)")
    catalog.add_argument("--root", default=".", help="the repository whose configs it reads (default: .)")
    ledger = commands.add_parser("claims", help="print the claims ledger of a run (RESULTS/claims.nc)")
    ledger.add_argument("results", nargs="?", default="results", help="the run's results folder (default: results)")
    ledger.add_argument("--namespace", default="", help="the ledger of a config's figures.namespace (claims-NS.nc)")
    ledger.add_argument("--verdict", help="only the rows of this verdict (reproduced, not reproduced, inconclusive, not run)")
    ledger.add_argument("--readme", metavar="README", help="rewrite the block between the claims markers of this file instead")
    costs = commands.add_parser("plan", help="jobs, epochs, SGD-epoch equivalents and GPU-hours of configs")
    costs.add_argument("configs", nargs="+")
    costs.add_argument("--gpu", metavar="TABLE", help="a throughput table (benchmarks/sam_throughput.py --table) to price in GPU-hours")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return validate(args.configs)
        if args.command == "describe":
            if not Path(args.store).is_file():
                parser.error(f"no file {args.store}")
            return describe(args.store)
        if args.command == "claims":
            return claims(args.results, args.namespace, args.verdict, args.readme)
        if args.command == "plan":
            return cost_plan(args.configs, args.gpu)
        if args.command == "catalog":
            return write_catalog(args.root, args.markdown)
        return figures(args.kind)
    except BrokenPipeError:  # `sharpness figures | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
