# The study's store, config slice and provenance in one tarball (figures and tables depend on
# the config that draws them, so they stay beside the figures: results/figures/…).

from sharpness.archive_check import study_of
from sharpness.pipeline.stale import mark_damaged_archives

PLANNED_ARCHIVES = [f"results/archive/{s}.tar.gz" for s in STUDIES]
# A planned archive damaged since it was built (a flipped byte, a truncated copy) is dated back
# to the epoch here, before the DAG is built, so this very run rebuilds it from its store.
mark_damaged_archives(PLANNED_ARCHIVES)


rule archive:
    input:
        store="results/{study}/{study}.nc",
        code=code("archive"),
    output:
        "results/archive/{study}.tar.gz",
    log:
        "logs/archive/{study}.log",
    conda:
        "../envs/report.yaml"
    params:
        study=lambda wc: canonical(STUDIES[wc.study].cfg),
    script:
        "scripts/run_rule.py"


# SHA256SUMS over this config's archives and every other archive in results/archive that
# verifies (another config's studies), so one file checks them all with `sha256sum -c` inside
# results/archive. Each is verified first (gzip, tar, the store's SHA-256 inside); any other
# file there is reported, never listed. The step is Python: no file name reaches a shell.
rule checksums:
    input:
        archives=present_archives(),
        code=code("checksums"),
    output:
        "results/archive/SHA256SUMS",
    log:
        "logs/archive/checksums.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"
