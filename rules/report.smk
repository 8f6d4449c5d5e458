# The numbers a paper figure plots, reduced from the study stores (mean ± std over seeds).
rule figure_data:
    input:
        stores=figure_stores,
        code=figure_code("figure_data"),
    output:
        "results/figures/{fig_id}.nc",
    log:
        "logs/figures/{fig_id}.data.log",
    conda:
        "../envs/report.yaml"
    params:
        options=lambda wc: canonical(PLOTS[wc.fig_id]),
    script:
        "scripts/run_rule.py"


# The figure itself, drawn from its numbers only: styling never recomputes them.
rule figure:
    input:
        data="results/figures/{fig_id}.nc",
        code=figure_code("figure"),
    output:
        report(
            expand(
                "results/figures/{{fig_id}}.{ext}", ext=config["figures"]["formats"]
            ),
            caption="captions/figure.rst",
            category="Figures",
        ),
    log:
        "logs/figures/{fig_id}.log",
    conda:
        "../envs/report.yaml"
    params:
        caption=lambda wc: FIGURES[wc.fig_id].caption,
        style=canonical({k: v for k, v in config["figures"].items() if k != "plots"}),
    script:
        "scripts/run_rule.py"


# A paper table as CSV and Markdown.
rule table:
    input:
        stores=figure_stores,
        code=figure_code("table"),
    output:
        csv=report(
            "results/tables/{fig_id}.csv",
            caption="captions/table.rst",
            category="Tables",
        ),
        md="results/tables/{fig_id}.md",
    log:
        "logs/tables/{fig_id}.log",
    conda:
        "../envs/report.yaml"
    params:
        options=lambda wc: canonical(PLOTS[wc.fig_id]),
        caption=lambda wc: TABLES[wc.fig_id].caption,
    script:
        "scripts/run_rule.py"
