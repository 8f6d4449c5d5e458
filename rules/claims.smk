# The claims ledger (sharpness.claims): every claim of this config's figures and tables, evaluated
# on the studies each draws, into one file per id; then every per-id file of this namespace, this
# config's and those other configs left there, as one ledger. So a paper-scale catalogue run one
# config after another fills one ledger, and running a config again reruns nothing (the paths:
# CLAIMS_DIR, LEDGER and all_claim_files() in rules/common.smk).


# One job for every id (an id without claims gets a file with no rows), so that the outputs are
# known without importing the claims while the Snakefile is parsed.
if PLOTS:

    rule claims:
        input:
            stores=report_stores(list(PLOTS)),
            code=code("claims"),
        output:
            [f"{CLAIMS_DIR}/{i}.nc" for i in PLOTS],
        log:
            f"{CLAIMS_LOG_DIR}/claims.log",
        conda:
            "../envs/report.yaml"
        params:
            plots=canonical(PLOTS),
            planned=planned_settings(PLOTS),
        script:
            "scripts/run_rule.py"


# The report's menu sorts categories by name: "Claims" comes before "Figures" and "Tables".
rule ledger:
    input:
        claims=all_claim_files(),
        code=code("ledger"),
    output:
        nc=f"{LEDGER}.nc",
        md=report(f"{LEDGER}.md", caption="captions/claims.rst", category="Claims"),
    log:
        f"{CLAIMS_LOG_DIR}/ledger.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"
