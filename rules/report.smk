def own_caption(exp_id, what):
    """The report caption of one figure or table (``what``), written under .snakemake/captions
    while the Snakefile is read: Snakemake's caption template sees the job, not the file it
    captions, so a shared template would give every figure its whole module's captions.
    """
    template = Path(workflow.basedir, "rules/captions", f"{what}.rst").read_text()
    text = template.replace("{{ fig_id }}", exp_id).replace(
        "{{ caption }}", entry(exp_id).caption.replace("|", "\\|")
    )
    path = Path(".snakemake/captions", NAMESPACE or "default", f"{exp_id}.{what}.rst")
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(path.resolve())


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
            figures=[
                report(
                    f"{FIGURE_DIR}/{i}.{ext}",
                    caption=own_caption(i, "figure"),
                    category="Figures",
                )
                for i in _figures
                for ext in config["figures"]["formats"]
            ],
            csv=[
                report(
                    f"{TABLE_DIR}/{i}.csv",
                    caption=own_caption(i, "table"),
                    category="Tables",
                )
                for i in _tables
            ],
            md=[f"{TABLE_DIR}/{i}.md" for i in _tables],
        log:
            f"{REPORT_LOG_DIR}/{_module}.log",
        conda:
            "../envs/report.yaml"
        params:
            plots=canonical({i: PLOTS[i] for i in _ids}),
            planned=planned_settings(_ids),
            style=canonical(
                {
                    k: v
                    for k, v in config["figures"].items()
                    if k not in ("plots", "namespace")
                }
            ),
        script:
            "scripts/run_rule.py"
