rule figure:
    """A paper figure, and the numbers it plots as netCDF beside it."""
    output:
        figures=report(
            expand("results/figures/{{fig_id}}.{ext}", ext=config["figures"]["formats"]),
            caption="captions/figure.rst",
            category="Figures",
        ),
        data="results/figures/{fig_id}.nc",
    input:
        stores=lambda wc: [f"results/{s}/{s}.nc" for s in plot_studies(wc.fig_id)],
        code=code("report", "store", "theory"),
    params:
        options=lambda wc: PLOTS[wc.fig_id],
        caption=lambda wc: FIGURES[wc.fig_id].caption,
        style={k: v for k, v in config["figures"].items() if k != "plots"},
    log:
        "logs/figures/{fig_id}.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"


rule table:
    """A paper table as CSV and Markdown."""
    output:
        csv=report("results/tables/{fig_id}.csv", caption="captions/table.rst", category="Tables"),
        md="results/tables/{fig_id}.md",
    input:
        stores=lambda wc: [f"results/{s}/{s}.nc" for s in plot_studies(wc.fig_id)],
        code=code("report", "store", "theory"),
    params:
        options=lambda wc: PLOTS[wc.fig_id],
        caption=lambda wc: TABLES[wc.fig_id].caption,
    log:
        "logs/tables/{fig_id}.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"
