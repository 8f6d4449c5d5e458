# Validation, study plans, wildcard constraints and input functions shared by all rules.

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sharpness.catalog import FIGURES, TABLES, entry
from sharpness.config import Study, check_duplicate_keys, validate_config
from sharpness.config.preflight import (
    check_device,
    missing_inputs,
    missing_inputs_warning,
    stop_for_missing_inputs,
)
from sharpness.config.figures import plot_studies
from sharpness.pipeline import step_module, study_rule_name
from sharpness.code_digest import write_digest

# Rejects a malformed config naming the key, and fills the schema's defaults, before any job.
check_duplicate_keys(workflow.configfiles)
validate_config(config)
# What the user must supply (datasets that are not downloaded, pretrained weights): listed here,
# so that a dry run still plans; a real run stops before its first job (onstart in the Snakefile).
MISSING_INPUTS = missing_inputs(config)
if MISSING_INPUTS:
    print(missing_inputs_warning(MISSING_INPUTS), file=sys.stderr)

STUDIES = {name: Study(name, cfg) for name, cfg in config["studies"].items()}
PLOTS = config["figures"]["plots"]
# This config's figures and tables, apart from those of configs in another namespace.
NAMESPACE = config["figures"]["namespace"]
FIGURE_DIR = Path("results/figures", NAMESPACE).as_posix()
TABLE_DIR = Path("results/tables", NAMESPACE).as_posix()
REPORT_LOG_DIR = Path("logs/report", NAMESPACE).as_posix()
# The claims ledger of the namespace: one file per id, then results/claims[-<namespace>].{nc,md}.
CLAIMS_DIR = Path("results/claims", NAMESPACE).as_posix()
LEDGER = "results/claims" + (f"-{NAMESPACE}" if NAMESPACE else "")
CLAIMS_LOG_DIR = Path("logs/claims", NAMESPACE).as_posix()


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


# One digest file per step: rewritten when its import closure's code changes (comments and
# docstrings do not count), so it is the rule's single code input (sharpness.code_digest).
CODE_DIR = "results/.code"


def code(rule):
    """The code input of ``rule``: the digest of the package files its step imports."""
    return write_digest(f"{CODE_DIR}/{rule}.sha256", [step_module(rule)])


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


def planned_settings(fig_ids):
    """The settings this config plans for each study the ids draw: a report refuses a store
    built under other settings (sharpness.store.check_planned_settings)."""
    studies = {s for fig_id in fig_ids for s in plot_studies(PLOTS[fig_id])}
    return canonical({s: STUDIES[s].cfg for s in sorted(studies)})


def report_code(module):
    """A report job's code: its step, plus the report module that reduces and draws its ids."""
    return write_digest(
        f"{CODE_DIR}/{study_rule_name('report', module)}.sha256",
        [step_module("report"), f"sharpness.report.{module}"],
    )


def all_claim_files():
    """This config's per-id claim files and every other one already in its namespace's folder."""
    own = {f"{CLAIMS_DIR}/{i}.nc" for i in PLOTS}
    return sorted(own | {p.as_posix() for p in Path(CLAIMS_DIR).glob("*.nc")})


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
    targets += [f"{LEDGER}.nc", f"{LEDGER}.md"]
    return targets


def present_archives():
    """This config's archives and those of other configs in results/archive: only names a study
    can have, so every config lists the same inputs (running another reruns nothing here).
    """
    present = [
        p.as_posix() for p in Path("results/archive").glob("*.tar.gz") if study_of(p)
    ]
    return sorted(set(PLANNED_ARCHIVES) | set(present))
