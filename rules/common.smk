# Validation, wildcard constraints and input functions shared by all rules.

import json
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sharpness.config import Study, validate_config
from sharpness.report.registry import FIGURES, TABLES

# A readable error naming the key first; then Snakemake's own check (fills schema defaults).
validate_config(config)
validate(config, "../schemas/config.schema.yaml")

STUDIES = {name: Study(name, cfg) for name, cfg in config["studies"].items()}
PLOTS = config["figures"]["plots"]
SRC = Path(workflow.basedir) / "src" / "sharpness"


wildcard_constraints:
    study="|".join(map(re.escape, STUDIES)),
    seed=r"\d+",
    opt=r"[a-z]+",
    first=r"[a-z]+",
    second=r"[a-z]+",
    t=r"\d+",
    fig_id="|".join(map(re.escape, PLOTS)) or "NONE",


def canonical(value):
    """A config slice as sorted JSON: reordering keys in config.yaml reruns nothing."""
    return json.dumps(value, sort_keys=True)


def code(*subpackages):
    """Package files a rule's result depends on: Snakemake does not track imported modules."""
    files = [SRC / "__init__.py", SRC / "pipeline.py"]
    for sub in subpackages:
        path = SRC / sub
        files += sorted(path.rglob("*.py")) if path.is_dir() else [SRC / f"{sub}.py"]
    return [str(f) for f in files]


TRAIN_CODE = code("data", "models", "optim", "train", "store")


def dataset_file(wildcards):
    return f"results/data/{STUDIES[wildcards.study].dataset_key}.pt"


def dataset_spec(key):
    """The dataset options of whichever study prepares ``key``."""
    for study in STUDIES.values():
        if study.dataset_key == key:
            return study.cfg["dataset"]
    raise ValueError(f"no study uses dataset {key}")


def seed_runs(wildcards, filename):
    """``filename`` in every run folder of one seed of a study."""
    study = STUDIES[wildcards.study]
    root = f"results/{wildcards.study}/seed{wildcards.seed}"
    return [f"{root}/{run}/{filename}" for run in study.run_names]


def spectrum_files(study):
    """The spectrum.nc of every measured pure run of a study (none without a spectrum section)."""
    if not study.spectrum:
        return []
    return [
        f"results/{study.name}/seed{seed}/{opt}/spectrum.nc"
        for seed in study.seeds
        for opt in study.spectrum["runs"]
    ]


def _study_resource(key, default):
    return lambda wc: STUDIES[wc.study].cfg["resources"].get(key, default)


# Cluster resources of a training job; one GPU when the study trains on CUDA.
TRAIN_RESOURCES = dict(
    runtime=_study_resource("runtime", 60),
    mem_mb=_study_resource("mem_mb", 4000),
    cpus_per_task=_study_resource("cpus", 2),
    gpu=lambda wc: int(STUDIES[wc.study].cfg["device"] == "cuda"),
)


def figure_files(fig_id):
    formats = config["figures"]["formats"]
    return [f"results/figures/{fig_id}.{ext}" for ext in [*formats, "nc"]]


def plot_studies(fig_id):
    options = PLOTS[fig_id]
    return options.get("studies") or [options["study"]]


def all_targets():
    targets = [f"results/{s}/{s}.nc" for s in STUDIES]
    for fig_id in PLOTS:
        if fig_id in FIGURES:
            targets += figure_files(fig_id)
        if fig_id in TABLES:
            targets += [f"results/tables/{fig_id}.{ext}" for ext in ("csv", "md")]
    targets += [f"results/archive/{s}.tar.gz" for s in STUDIES]
    targets.append("results/archive/SHA256SUMS")
    return targets
