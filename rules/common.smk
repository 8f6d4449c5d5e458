# Validation, study plans, wildcard constraints and input functions shared by all rules.

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sharpness.catalog import FIGURES, TABLES, entry
from sharpness.config import Study, check_duplicate_keys, validate_config
from sharpness.config.preflight import check_dataset_files, check_device
from sharpness.config.figures import plot_studies
from sharpness.pipeline import step_module, study_rule_name
from sharpness.imports import import_closure

# Rejects a malformed config naming the key, and fills the schema's defaults, before any job.
check_duplicate_keys(workflow.configfiles)
validate_config(config)
# What the machine must have: the datasets' files (and, when a local run starts, a GPU for
# its CUDA studies: see onstart in the Snakefile).
check_dataset_files(config)

STUDIES = {name: Study(name, cfg) for name, cfg in config["studies"].items()}
PLOTS = config["figures"]["plots"]
# This config's figures and tables, apart from those of configs in another namespace.
NAMESPACE = config["figures"]["namespace"]
FIGURE_DIR = Path("results/figures", NAMESPACE).as_posix()
TABLE_DIR = Path("results/tables", NAMESPACE).as_posix()
REPORT_LOG_DIR = Path("logs/report", NAMESPACE).as_posix()


def studies_of(kind):
    return {name: s for name, s in STUDIES.items() if s.kind == kind}


def one_of(names):
    """A wildcard constraint matching exactly ``names`` (and nothing when there are none)."""
    return "|".join(map(re.escape, sorted(names))) or "(?!)"


wildcard_constraints:
    study=one_of(STUDIES),
    seed=r"\d+",
    fig_id=one_of(PLOTS),


def canonical(value):
    """A config slice as sorted JSON: reordering keys in config.yaml reruns nothing."""
    return json.dumps(value, sort_keys=True)


def code(rule):
    """The package files the step of ``rule`` imports: Snakemake does not track them itself."""
    return [str(path) for path in import_closure(step_module(rule))]


def dataset_file(wildcards):
    return f"results/data/{STUDIES[wildcards.study].dataset_key}.pt"


def dataset_spec(key):
    """The dataset options of whichever study prepares ``key``."""
    for study in STUDIES.values():
        if study.dataset_key is not None and study.dataset_key == key:
            return study.prepared_dataset
    raise ValueError(f"no study uses dataset {key}")


def study_resources(name, runs=1):
    """Cluster resources of one training or Hessian job of study ``name`` that trains ``runs``
    runs (the configured runtime is per run); one GPU when the study trains on CUDA."""
    study = STUDIES[name]
    res = study.cfg["resources"]
    return dict(
        runtime=res.get("runtime", 60) * runs,
        mem_mb=res.get("mem_mb", 4000),
        cpus_per_task=res.get("cpus", 2),
        gpu=int(study.cfg["device"] == "cuda"),
    )


# The same, for rules with a {study} wildcard.
TRAIN_RESOURCES = {
    key: (lambda wc, key=key: study_resources(wc.study)[key])
    for key in ("runtime", "mem_mb", "cpus_per_task", "gpu")
}


def figure_files(fig_id):
    formats = config["figures"]["formats"]
    return [f"{FIGURE_DIR}/{fig_id}.{ext}" for ext in [*formats, "nc"]]


def table_files(fig_id):
    return [f"{TABLE_DIR}/{fig_id}.{ext}" for ext in ("csv", "md")]


# The ids of the config by the report module that draws them: one report job per module.
REPORT_MODULES = {}
for _fig_id in PLOTS:
    REPORT_MODULES.setdefault(entry(_fig_id).module, []).append(_fig_id)


def report_stores(fig_ids):
    studies = {s for fig_id in fig_ids for s in plot_studies(PLOTS[fig_id])}
    return sorted(STUDIES[s].store for s in studies)


def report_code(module):
    """A report job's code: its step, plus the report module that reduces and draws its ids."""
    return sorted(
        set(code("report"))
        | {str(p) for p in import_closure(f"sharpness.report.{module}")}
    )


def all_archives():
    """This config's study archives and every other archive already in results/archive."""
    own = {f"results/archive/{s}.tar.gz" for s in STUDIES}
    return sorted(
        own | {p.as_posix() for p in Path("results/archive").glob("*.tar.gz")}
    )


def all_targets():
    targets = [study.store for study in STUDIES.values()]
    # Per-run results too: otherwise a run file lost (a killed --forcerun) under an up-to-date
    # store would never be rebuilt.
    targets += [f for study in STUDIES.values() for f in study.result_files()]
    for fig_id in PLOTS:
        if fig_id in FIGURES:
            targets += figure_files(fig_id)
        if fig_id in TABLES:
            targets += table_files(fig_id)
    targets += [f"results/archive/{s}.tar.gz" for s in STUDIES]
    targets.append("results/archive/SHA256SUMS")
    return targets
