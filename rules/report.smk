# The paper's figures and tables, one job per report module (the figures of one kind of study):
# each figure's numbers are reduced from the study stores and saved beside it, then drawn from
# those numbers only. Editing one module's code redraws that module's figures and no others.
for _module, _ids in REPORT_MODULES.items():
    _figures = [i for i in _ids if i in FIGURES]
    _tables = [i for i in _ids if i in TABLES]

    rule:
        name:
            study_rule_name("report", _module)
        input:
            stores=report_stores(_ids),
            code=report_code(_module),
        output:
            data=[f"{FIGURE_DIR}/{i}.nc" for i in _figures],
            figures=report(
                [
                    f"{FIGURE_DIR}/{i}.{ext}"
                    for i in _figures
                    for ext in config["figures"]["formats"]
                ],
                caption="captions/figure.rst",
                category="Figures",
            ),
            csv=report(
                [f"{TABLE_DIR}/{i}.csv" for i in _tables],
                caption="captions/table.rst",
                category="Tables",
            ),
            md=[f"{TABLE_DIR}/{i}.md" for i in _tables],
        log:
            f"{REPORT_LOG_DIR}/{_module}.log",
        conda:
            "../envs/report.yaml"
        params:
            plots=canonical({i: PLOTS[i] for i in _ids}),
            captions={i: entry(i).caption for i in _ids},
            style=canonical(
                {
                    k: v
                    for k, v in config["figures"].items()
                    if k not in ("plots", "namespace")
                }
            ),
        script:
            "scripts/run_rule.py"
