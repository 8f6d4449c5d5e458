"""The claims ledger as text: ``claims.md`` (what ``sharpness claims`` prints) and the README's
generated block. Every number comes from the ledger, with the run it came from beside it."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .decision import NOT_RUN, VERDICTS
from .ledger import ROW, rows
from .registry import PAPERS

VERDICT_NOTE = ("A verdict reads the whole interval, never the estimate alone: *reproduced* when the interval lies "
                "inside the rule's region, *not reproduced* when it lies wholly outside, *inconclusive* when it "
                "straddles the threshold (or there is no interval: one seed, every run diverged), *not run* when the "
                "study behind the claim was not run or does not hold what the claim needs.")


def _listed(ds: xr.Dataset, key: str, short=lambda v: v) -> str:
    return ", ".join(short(v) for v in json.loads(ds.attrs.get(key, "[]"))) or "unknown"


def _revision(sha: str) -> str:
    return sha[:10] + ("-dirty" if sha.endswith("-dirty") else "")


def provenance_line(ds: xr.Dataset) -> str:
    """The git revision, CPU, threads per job and date of the run(s) behind a ledger."""
    first, last = ds.attrs.get("evaluated_from", "")[:10], ds.attrs.get("evaluated_to", "")[:10]
    date = first if first == last else f"{first} to {last}"
    return (f"git {_listed(ds, 'run_git_revisions', _revision)}, {_listed(ds, 'run_cpus')}, "
            f"torch threads per job: {_listed(ds, 'run_threads_per_job')}, {date or 'date unknown'}")


def estimate_text(row: dict) -> str:
    """ "estimate [low, high] units" with 3 significant digits; "—" when there is none."""
    if row["verdict"] == NOT_RUN or not np.isfinite(row["estimate"]):
        return "—"
    low, high, value = row["low"], row["high"], row["estimate"]
    if not (np.isfinite(low) and np.isfinite(high)):
        interval = " (no interval)"
    elif low == high == value:
        interval = " (exact)"
    else:
        interval = f" [{low:.3g}, {high:.3g}]"
    units = "" if row["quantity_units"] in ("", "1") else f" {row['quantity_units']}"
    if np.isfinite(low) and np.isfinite(high) and abs(value) < 1e-12 * max(abs(low), abs(high)):
        value = 0.0  # a mean of differences that cancel, up to rounding
    return f"{value:.3g}{interval}{units}"


def ours(row: dict) -> str:
    text = estimate_text(row)
    return text if text == "—" else f"{text}, n = {row['n']}"


def rule_text(row: dict) -> str:
    """The rule on its quantity, and how the interval it reads was formed."""
    method = f"; {row['method']}" if row["method"] else ""
    return f"{row['quantity']} {row['rule']}{method}"


def verdict_text(row: dict) -> str:
    return row["verdict"] + (f" ({row['note']})" if row["note"] else "")


def _table(header: list[str], lines: list[list]) -> str:
    def cell(text) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    return "\n".join("| " + " | ".join(map(cell, line)) + " |" for line in [header, ["---"] * len(header), *lines])


def verdict_counts(ds: xr.Dataset) -> str:
    counts = ", ".join(f"{int((ds.verdict.values == v).sum())} {v}" for v in VERDICTS)
    return f"**{len(set(ds.claim_id.values.tolist()))} claims, {ds.sizes[ROW]} rows (claim × study):** {counts}"


def _seeds(ds: xr.Dataset) -> str:
    seeds = json.loads(ds.attrs.get("seeds_per_study", "[]"))
    return "none" if not seeds else str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"


def render_markdown(ds: xr.Dataset) -> str:
    """The ledger as markdown: provenance, verdict counts, then one table per paper."""
    parts = [
        "# Claims ledger",
        f"Computed from the study stores of a run at {provenance_line(ds)}; torch {_listed(ds, 'run_torch_versions')}; "
        f"seeds per study: {_seeds(ds)} (n of each estimate below). No number here is typed.",
        verdict_counts(ds),
        VERDICT_NOTE,
    ]
    header = ["claim", "study", "statement", "paper", "ours", "rule", "verdict"]
    for paper, title in PAPERS.items():
        own = [r for r in rows(ds) if r["paper"] == paper]
        lines = [[r["claim_id"], r["study"] or "—", r["statement"], r["paper_value"] or "—", ours(r), rule_text(r),
                  verdict_text(r)] for r in own]
        parts += [f"## {title}", _table(header, lines)] if own else []
    return "\n\n".join(parts) + "\n"


README_BEGIN, README_END = "<!-- claims:begin -->", "<!-- claims:end -->"


def readme_block(ds: xr.Dataset, source: str) -> str:
    """A compact table of the ledger under one line naming the run it came from (the intervals'
    methods and each row's note are in ``claims.md``)."""
    lines = [[r["claim_id"], r["study"] or "—", r["statement"], f"{r['quantity']} {r['rule']}", r["verdict"], estimate_text(r), r["n"]]
             for r in rows(ds)]
    header = ["claim", "study", "statement", "rule", "verdict", "estimate [interval]", "n"]
    return (f"Generated from {source} of a run at {provenance_line(ds)}. {verdict_counts(ds)}\n\n"
            + _table(header, lines) + "\n")


def replace_readme_block(readme: str, block: str) -> str:
    """``readme`` with the text between its claims markers replaced by ``block``."""
    begin, end = readme.find(README_BEGIN), readme.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"no '{README_BEGIN}' … '{README_END}' lines to rewrite between")
    return readme[: begin + len(README_BEGIN)] + "\n" + block + readme[end:]
