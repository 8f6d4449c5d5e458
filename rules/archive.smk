rule archive:
    """The study's store, figure data, config slice and provenance in one tarball."""
    output:
        "results/archive/{study}.tar.gz",
    input:
        store="results/{study}/{study}.nc",
        figures=lambda wc: [
            f"results/figures/{f}.nc" for f in PLOTS if wc.study in plot_studies(f)
        ],
        code=code("store"),
    params:
        study=lambda wc: STUDIES[wc.study].cfg,
    log:
        "logs/archive/{study}.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"


rule checksums:
    """SHA256SUMS over all archives, verifiable with `sha256sum -c` inside results/archive."""
    output:
        "results/archive/SHA256SUMS",
    input:
        expand("results/archive/{study}.tar.gz", study=STUDIES),
    log:
        "logs/archive/checksums.log",
    shell:
        "(cd results/archive && sha256sum $(basename -a {input}) > SHA256SUMS) 2> {log}"
