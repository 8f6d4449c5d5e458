"""The claims ledger: every declared claim, evaluated on the study stores, with its verdict.

- :func:`evaluate_id`: the claims of one figure or table id on each study it draws, one row per
  (claim, study): the per-id file ``results/claims/[<namespace>/]<ID>.nc``.
- :func:`assemble`: the per-id files of one or more runs as one ledger, every declared claim in
  it (those no file evaluated are ``not run``): ``results/claims[-<namespace>].nc``.
- :mod:`.markdown` renders a ledger as ``claims.md`` and as the README's generated block.

A ledger fills from several runs (a paper-scale catalogue runs one config after another), so
each per-id file keeps its own provenance and the ledger states the union.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..catalog import FIGURES, TABLES, entry
from ..store import STORE_LAYOUT, check_study_store, provenance_attrs, read
from .evidence import Estimate
from .registry import PAPERS, Claim, claims_of, load_all

ROW = "row"
NOT_HELD = "the study does not hold what this claim needs"
NOT_DRAWN = "no run in this ledger draws its figure or table"
VALUE_UNITS = "the row's quantity_units"

# name -> (units, long_name); strings first, then the numbers of the estimate.
TEXT = {
    "claim_id": "claim id, <figure or table id>/<name>",
    "exp_id": "figure or table id",
    "study": "study whose store the claim was evaluated on (empty: a claim that reads no study)",
    "paper": "paper that makes the claim",
    "statement": "the paper's claim in words",
    "quantity": "the quantity estimated, with its sign convention",
    "quantity_units": "units of estimate, low and high",
    "rule": "decision rule: the values of the quantity for which the claim holds",
    "paper_value": "the paper's own number, where it prints one",
    "method": "how the interval [low, high] was formed",
    "verdict": "reproduced, not reproduced, inconclusive (the interval straddles the rule's threshold) or not run",
    "note": "what the estimate left out, or why the claim was not run",
}
NUMBERS = {
    "estimate": (VALUE_UNITS, "estimate of the quantity"),
    "low": (VALUE_UNITS, "lower end of the interval of the estimate"),
    "high": (VALUE_UNITS, "upper end of the interval of the estimate"),
    "n": ("1", "number of runs (seeds, initialisations, trials) behind the estimate"),
    "seeds": ("1", "size of the study store's seed dimension (0: no store)"),
}


def _row(claim: Claim, study: str, estimate: Estimate | None, seeds: int, why_not_run: str = NOT_HELD) -> dict:
    est = estimate or Estimate(np.nan, np.nan, np.nan, 0, "", why_not_run)
    return dict(
        claim_id=claim.claim_id, exp_id=claim.exp_id, study=study, paper=claim.paper, statement=claim.statement,
        quantity=claim.quantity, quantity_units=claim.units, rule=str(claim.rule), paper_value=claim.paper_value,
        method=est.method, verdict=claim.rule.verdict(estimate), note=est.note,
        estimate=est.value, low=est.low, high=est.high, n=est.n, seeds=seeds,
    )


def _dataset(rows: list[dict], attrs: dict) -> xr.Dataset:
    """Rows as variables along ``row``, each with CF units and long_name (zero rows allowed)."""
    data = {}
    for name, long_name in TEXT.items():
        data[name] = (ROW, np.array([r[name] for r in rows], dtype=str), {"units": "1", "long_name": long_name})
    for name, (units, long_name) in NUMBERS.items():
        dtype = int if name in ("n", "seeds") else float
        data[name] = (ROW, np.array([r[name] for r in rows], dtype=dtype), {"units": units, "long_name": long_name})
    return xr.Dataset(data, attrs=attrs)


def _store_provenance(store: xr.Dataset) -> dict:
    """What a store says about the run that wrote it (sharpness.store.provenance)."""
    cpu = json.loads(store.attrs.get("cpu", "{}"))
    versions = json.loads(store.attrs.get("package_versions", "{}"))
    return {
        "git_revision": store.attrs.get("git_revision", "unknown"),
        "host": store.attrs.get("host", ""),
        "cpu": cpu.get("model", "unknown"),
        "vector_isa": cpu.get("vector_isa", "unknown"),
        "torch": versions.get("torch", "unknown"),
        "threads": store.attrs.get("torch_threads", ""),  # recorded by newer stores only
        "slurm_job_id": store.attrs.get("slurm_job_id", ""),
    }


def _evaluate(claim: Claim, study: str, store: xr.Dataset | None, options: dict) -> Estimate | None:
    try:
        return claim.evaluate(store, options)
    except Exception as error:  # a measure that raises is a bug: say which claim, keep the cause
        raise RuntimeError(f"claim {claim.claim_id} on study {study or '(none)'!r}: {error}") from error


def evaluate_id(exp_id: str, store_paths: list[str], options: dict) -> xr.Dataset:
    """Every claim of ``exp_id`` on each study store it draws (the study is the file's stem), or
    once with no store for an id that reads no study; one row per (claim, study)."""
    claims = claims_of(exp_id)
    if not claims:  # no store to read
        studies = {}
    elif entry(exp_id).kind is None:
        studies = {"": None}
    else:
        studies = {Path(p).stem: str(p) for p in store_paths}
    rows, stores = [], {}
    for study, path in studies.items():
        store = None
        if path is not None:
            check_study_store(path, study, STORE_LAYOUT)
            store = read(path)
            stores[study] = _store_provenance(store)
        seeds = int(store.sizes.get("seed", 0)) if store is not None else 0
        rows += [_row(c, study, _evaluate(c, study, store, options), seeds) for c in claims]
    attrs = provenance_attrs(options, figure=exp_id, stores=stores, evaluated_at=_now(),
                             # run_step sets it from the rule's threads, as for every step
                             threads_per_job=os.environ.get("OMP_NUM_THREADS", "unknown"))
    return _dataset(rows, attrs)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def assemble(per_id_files: list[str]) -> xr.Dataset:
    """The rows of the per-id files, plus a ``not run`` row for every declared claim that no
    file evaluated, ordered by paper and id; the provenance of the runs as attributes.
    Rows of claims declared no longer (a file of older code) are left out."""
    declared = load_all()
    parts = [read(path) for path in sorted(set(map(str, per_id_files)))]
    found = [row for part in parts for row in rows(part) if row["claim_id"] in declared]
    evaluated = {row["claim_id"] for row in found}
    found += [_row(c, "", None, 0, NOT_DRAWN) for c in declared.values() if c.claim_id not in evaluated]
    found.sort(key=_order(declared))
    return _dataset(found, {**provenance_attrs(), **_run_summary(parts, found)})


def _order(declared: dict[str, Claim]):
    """Rows by paper, then in the catalogue's order of ids, then as declared, then by study."""
    papers = {paper: i for i, paper in enumerate(PAPERS)}
    ids = {exp_id: i for i, exp_id in enumerate(dict.fromkeys([*FIGURES, *TABLES]))}
    declared_at = {claim_id: i for i, claim_id in enumerate(declared)}
    return lambda r: (papers[r["paper"]], ids.get(r["exp_id"], len(ids)), declared_at[r["claim_id"]], r["study"])


def _run_summary(parts: list[xr.Dataset], rows: list[dict]) -> dict:
    """What the ledger's numbers came from: every git revision, CPU, thread count and torch
    version of the stores (or of the claims jobs, where a store does not say), and when."""
    jobs = [p.attrs for p in parts]
    stores = [s for a in jobs for s in json.loads(a.get("stores", "{}")).values()]

    def union(from_stores, from_jobs) -> str:
        values = {v for v in from_stores if v} or {v for v in from_jobs if v}
        return json.dumps(sorted(values))

    dates = sorted(a["evaluated_at"] for a in jobs if a.get("evaluated_at"))
    seeds = sorted({r["seeds"] for r in rows if r["seeds"] > 0})
    return {
        "run_git_revisions": union([s["git_revision"] for s in stores], [a.get("git_revision") for a in jobs]),
        "run_cpus": union([f"{s['cpu']} ({s['vector_isa']})" for s in stores],
                          [json.loads(a["cpu"]).get("model") for a in jobs if "cpu" in a]),
        "run_threads_per_job": union([s["threads"] for s in stores], [a.get("threads_per_job") for a in jobs]),
        "run_torch_versions": union([s["torch"] for s in stores],
                                    [json.loads(a["package_versions"]).get("torch") for a in jobs if "package_versions" in a]),
        "evaluated_from": dates[0] if dates else "",
        "evaluated_to": dates[-1] if dates else "",
        "seeds_per_study": json.dumps(seeds),
        "ids_evaluated": json.dumps(sorted({a.get("figure", "") for a in jobs})),
    }


def rows(ds: xr.Dataset) -> list[dict]:
    """A ledger's (or a per-id file's) rows as dicts of plain values."""
    columns = {name: ds[name].values.tolist() for name in (*TEXT, *NUMBERS)}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]
