# The study's store, figure data, config slice and provenance in one tarball.
rule archive:
    input:
        store="results/{study}/{study}.nc",
        figures=lambda wc: [
            f"results/figures/{f}.nc"
            for f in PLOTS
            if f in FIGURES and wc.study in plot_studies(PLOTS[f])
        ],
        tables=lambda wc: [
            f"results/tables/{f}.csv"
            for f in PLOTS
            if f in TABLES and wc.study in plot_studies(PLOTS[f])
        ],
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


# SHA256SUMS over all archives, verifiable with `sha256sum -c` inside results/archive.
rule checksums:
    input:
        expand("results/archive/{study}.tar.gz", study=STUDIES),
    output:
        "results/archive/SHA256SUMS",
    log:
        "logs/archive/checksums.log",
    conda:
        "../envs/report.yaml"
    shell:
        "(cd results/archive && sha256sum $(basename -a {input}) > SHA256SUMS) 2> {log}"
