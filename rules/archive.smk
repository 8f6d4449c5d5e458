# The study's store, config slice and provenance in one tarball (figures and tables depend on
# the config that draws them, so they stay beside the figures: results/figures/…).
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


# SHA256SUMS over every archive in results/archive, this config's and any other config's, so
# one file verifies them all with `sha256sum -c` inside results/archive. (With the archives
# present listed as inputs, running another config again finds the same inputs: no rerun.)
rule checksums:
    input:
        all_archives(),
    output:
        "results/archive/SHA256SUMS",
    log:
        "logs/archive/checksums.log",
    conda:
        "../envs/report.yaml"
    shell:
        "(cd results/archive && sha256sum $(basename -a {input}) > .SHA256SUMS.tmp && mv .SHA256SUMS.tmp SHA256SUMS) 2> {log}"
