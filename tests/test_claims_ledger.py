"""The claims ledger's machinery: reducers and rules (one case per verdict), evaluating an id on
study stores, assembling and rendering the ledger, the README's generated block and the CLI.
The claims here are throw-away ones, registered into an empty registry for each test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from scipy import stats

from sharpness.claims import (INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, Estimate, above, below, between,
                              every_run, exact, fraction, mean_interval, paired_difference, registry)
from sharpness.claims.ledger import NOT_DRAWN, NOT_HELD, assemble, evaluate_id, rows
from sharpness.claims.markdown import README_BEGIN, README_END, readme_block, render_markdown, replace_readme_block
from sharpness.cli import main
from sharpness.store import StoreError, provenance_attrs, read, write_atomic

# ---- reducers: each with a case per verdict, its interval checked against scipy ---------------


def test_mean_interval_is_scipys_t_interval():
    x = [1.0, 2.0, 4.0, 3.5]
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    est = mean_interval(x)
    assert (est.value, est.n) == (pytest.approx(np.mean(x)), 4)
    assert (est.low, est.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_paired_difference_is_scipys_paired_t_interval():
    a, b = [3.0, 4.5, 5.0, 2.0, 6.0], [1.0, 1.5, 4.0, 2.5, 3.0]
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    est = paired_difference(a, b)
    assert (est.low, est.high, est.n) == (pytest.approx(ci.low), pytest.approx(ci.high), 5)


def test_fraction_is_the_clopper_pearson_interval():
    est = fraction(3, 5)
    # Clopper-Pearson from the beta quantiles: an independent computation of the same interval.
    assert est.low == pytest.approx(stats.beta.ppf(0.025, 3, 3))
    assert est.high == pytest.approx(stats.beta.ppf(0.975, 4, 2))


def test_reducers_leave_out_non_finite_runs_and_count_them():
    est = mean_interval([1.0, np.nan, 3.0, np.inf])
    assert est.n == 2 and est.value == 2.0 and "2 of 4 seeds left out" in est.note
    assert mean_interval([2.0]).note == "one value: no interval" and not mean_interval([2.0]).defined
    assert every_run([np.nan]).n == 0
    with pytest.raises(ValueError, match="different lengths"):
        paired_difference([1.0, 2.0], [1.0])


REDUCER_CASES = {
    "mean_interval": (above(0), {
        REPRODUCED: lambda: mean_interval([1.0, 2.0, 3.0, 4.0]),  # [0.45, 4.55]
        NOT_REPRODUCED: lambda: mean_interval([-1.0, -2.0, -3.0, -4.0]),
        INCONCLUSIVE: lambda: mean_interval([1.0, 2.0, 3.0]),  # [-0.48, 4.48]
    }),
    "paired_difference": (above(0), {
        REPRODUCED: lambda: paired_difference([5.0, 6.0, 7.0], [1.0, 1.5, 2.0]),
        NOT_REPRODUCED: lambda: paired_difference([1.0, 1.5, 2.0], [5.0, 6.0, 7.0]),
        INCONCLUSIVE: lambda: paired_difference([1.0, 3.0, 2.0], [2.0, 1.0, 2.5]),
    }),
    "every_run": (between(0.9, 1.1), {
        REPRODUCED: lambda: every_run([0.95, 1.0, 1.05]),
        NOT_REPRODUCED: lambda: every_run([1.2, 1.3]),
        INCONCLUSIVE: lambda: every_run([0.95, 1.2]),
    }),
    "exact": (below(2.0), {
        REPRODUCED: lambda: exact(1.5),
        NOT_REPRODUCED: lambda: exact(2.5),
        INCONCLUSIVE: lambda: exact(np.nan),  # no number: nothing to decide on
    }),
    "fraction": (above(0.5), {
        REPRODUCED: lambda: fraction(10, 10),  # [0.69, 1]
        NOT_REPRODUCED: lambda: fraction(0, 10),  # [0, 0.31]
        INCONCLUSIVE: lambda: fraction(3, 5),
    }),
}


@pytest.mark.parametrize("reducer", REDUCER_CASES)
@pytest.mark.parametrize("verdict", [REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN])
def test_each_reducer_reaches_each_verdict(reducer, verdict):
    rule, cases = REDUCER_CASES[reducer]
    estimate = cases[verdict]() if verdict in cases else None  # a measure returns None: not run
    assert rule.verdict(estimate) == verdict


def _interval(low: float, high: float) -> Estimate:
    return Estimate((low + high) / 2, low, high, 3, "test interval")


RULE_CASES = [
    (above(0), _interval(0.1, 2.0), REPRODUCED),
    (above(0), _interval(-2.0, 0.0), NOT_REPRODUCED),  # the threshold itself is outside "> 0"
    (above(0), _interval(0.0, 1.0), INCONCLUSIVE),
    (below(1), _interval(0.2, 0.9), REPRODUCED),
    (below(1), _interval(1.0, 1.5), NOT_REPRODUCED),
    (below(1), _interval(0.5, 1.5), INCONCLUSIVE),
    (between(0.9, 1.1), _interval(0.9, 1.1), REPRODUCED),
    (between(0.9, 1.1), _interval(1.2, 1.4), NOT_REPRODUCED),
    (between(0.9, 1.1), _interval(0.5, 0.8), NOT_REPRODUCED),
    (between(0.9, 1.1), _interval(0.8, 1.2), INCONCLUSIVE),
    (between(0.9, 1.1), Estimate(1.0, np.nan, np.nan, 1, "one seed"), INCONCLUSIVE),
]


@pytest.mark.parametrize("rule, estimate, verdict", RULE_CASES)
def test_each_rule_kind_reaches_each_verdict(rule, estimate, verdict):
    assert rule.verdict(estimate) == verdict


@pytest.mark.parametrize("rule", [above(0), below(1), between(0, 1)])
def test_no_estimate_is_not_run(rule):
    assert rule.verdict(None) == NOT_RUN


# ---- evaluating one id on synthetic study stores -------------------------------------------


@pytest.fixture
def claims(monkeypatch):
    """An empty registry for the test's own claims (the package's declarations are untouched)."""
    monkeypatch.setattr(registry, "CLAIMS", {})
    return registry.CLAIMS


def _declare(exp_id: str, name: str, measure, rule=above(0), paper="late-sam", units="points", paper_value=""):
    registry.claim(exp_id, name, paper=paper, statement=f"statement of {name}", quantity=f"quantity of {name}",
                   units=units, rule=rule, paper_value=paper_value)(measure)


def _store(tmp_path, study: str, gap) -> str:
    """A study store with a per-seed 'gap' (what the throw-away claims measure)."""
    ds = xr.Dataset({"gap": ("seed", np.asarray(gap, dtype=float), {"units": "points", "long_name": "a gap"})},
                    coords={"seed": np.arange(len(gap))}, attrs={**provenance_attrs({}), "study": study})
    path = tmp_path / study / f"{study}.nc"
    write_atomic(ds, path)
    return str(path)


def _gap(store, options):
    return mean_interval(store.gap.values * options.get("scale", 1.0))


def test_evaluate_id_gives_one_row_per_claim_and_study(claims, tmp_path):
    _declare("LS-F3", "gap-positive", _gap, paper_value="1.2 points")
    _declare("LS-F3", "needs-more", lambda store, options: None)
    _declare("LS-F5", "elsewhere", _gap)  # another id: not evaluated here
    paths = [_store(tmp_path, "up", [1.0, 2.0, 3.0, 4.0]), _store(tmp_path, "down", [-1.0, -1.5, -2.0, -2.5])]
    ds = evaluate_id("LS-F3", paths, {"studies": ["up", "down"], "scale": 2.0})
    got = {(r["claim_id"], r["study"]): r for r in rows(ds)}
    assert set(got) == {(c, s) for c in ("LS-F3/gap-positive", "LS-F3/needs-more") for s in ("up", "down")}
    up = got["LS-F3/gap-positive", "up"]
    assert up["verdict"] == REPRODUCED and up["estimate"] == 5.0 and up["n"] == 4 and up["seeds"] == 4  # options reach it
    assert up["paper_value"] == "1.2 points" and up["rule"] == "> 0" and up["quantity_units"] == "points"
    assert got["LS-F3/gap-positive", "down"]["verdict"] == NOT_REPRODUCED
    held = got["LS-F3/needs-more", "up"]
    assert held["verdict"] == NOT_RUN and held["note"] == NOT_HELD and held["n"] == 0
    assert not [v for v in ds.data_vars if not {"units", "long_name"} <= set(ds[v].attrs)]
    stores = json.loads(ds.attrs["stores"])
    assert set(stores) == {"up", "down"} and {"git_revision", "cpu", "torch", "threads"} <= set(stores["up"])
    assert ds.attrs["figure"] == "LS-F3" and ds.attrs["evaluated_at"].endswith("Z")


def test_a_claim_that_reads_no_study_gets_no_store(claims):
    seen = []
    _declare("LB-F1", "closed-form", lambda store, options: seen.append(store) or exact(0.5), paper="sam-eos", units="1")
    [row] = rows(evaluate_id("LB-F1", [], {}))
    assert seen == [None] and (row["study"], row["verdict"], row["method"]) == ("", REPRODUCED, "exact (deterministic computation)")


def test_a_measure_that_raises_names_its_claim(claims, tmp_path):
    _declare("LS-F1", "broken", lambda store, options: store.missing_variable)
    with pytest.raises(RuntimeError, match=r"claim LS-F1/broken on study 's'") as error:
        evaluate_id("LS-F1", [_store(tmp_path, "s", [1.0, 2.0])], {"study": "s"})
    assert isinstance(error.value.__cause__, AttributeError)


def test_a_store_of_another_study_is_refused(claims, tmp_path):
    _declare("LS-F1", "gap", _gap)
    copied = tmp_path / "t.nc"  # study s's store under study t's name
    copied.write_bytes(Path(_store(tmp_path, "s", [1.0, 2.0])).read_bytes())
    with pytest.raises(StoreError, match="a store of study 's', not of 't'"):
        evaluate_id("LS-F1", [str(copied)], {"study": "t"})


def test_an_id_without_claims_is_an_empty_file_that_reads_back(claims, tmp_path):
    ds = evaluate_id("LS-F1", [str(tmp_path / "never-read.nc")], {"study": "never-read"})
    write_atomic(ds, tmp_path / "LS-F1.nc")
    back = read(tmp_path / "LS-F1.nc")
    assert back.sizes["row"] == 0 and {"claim_id", "verdict", "estimate", "n"} <= set(back.data_vars)


# ---- the whole ledger ----------------------------------------------------------------------


def _per_id_files(tmp_path) -> list[str]:
    """Four throw-away claims in two papers, one per verdict; LS-F5's id was not drawn."""
    _declare("LS-F3", "gap-positive", _gap, paper_value="1.2 points")
    _declare("LS-F3", "gap-negative", lambda store, options: mean_interval(-store.gap.values))
    _declare("LS-F5", "not-drawn", _gap)
    _declare("LB-F1", "edge-ratio", lambda store, options: exact(0.123456), rule=between(0, 1), paper="sam-eos", units="1")
    _declare("LS-F1", "straddles", lambda store, options: mean_interval([1.0, 2.0, 3.0]))
    store = _store(tmp_path, "s", [1.0, 2.0, 3.0, 4.0])
    files = []
    for exp_id, paths, options in (("LS-F3", [store], {"study": "s"}), ("LB-F1", [], {}), ("LS-F1", [store], {"study": "s"})):
        files.append(str(tmp_path / "claims" / f"{exp_id}.nc"))
        write_atomic(evaluate_id(exp_id, paths, options), files[-1])
    return files


def test_assemble_lists_every_declared_claim_once_a_verdict_each(claims, tmp_path):
    ledger = assemble(_per_id_files(tmp_path))
    got = {r["claim_id"]: r for r in rows(ledger)}
    assert list(got) == ["LS-F1/straddles", "LS-F3/gap-positive", "LS-F3/gap-negative", "LS-F5/not-drawn", "LB-F1/edge-ratio"]
    assert [got[c]["verdict"] for c in got] == [INCONCLUSIVE, REPRODUCED, NOT_REPRODUCED, NOT_RUN, REPRODUCED]
    assert got["LS-F5/not-drawn"]["note"] == NOT_DRAWN
    assert json.loads(ledger.attrs["seeds_per_study"]) == [4]
    assert json.loads(ledger.attrs["run_torch_versions"]) and ledger.attrs["evaluated_from"] <= ledger.attrs["evaluated_to"]
    assert not [v for v in ledger.data_vars if not {"units", "long_name"} <= set(ledger[v].attrs)]


def test_assemble_leaves_out_claims_declared_no_longer(claims, tmp_path):
    files = _per_id_files(tmp_path)
    del claims["LS-F3/gap-negative"]  # renamed or removed since the file was written
    assert [r["claim_id"] for r in rows(assemble(files))] == ["LS-F1/straddles", "LS-F3/gap-positive", "LS-F5/not-drawn",
                                                              "LB-F1/edge-ratio"]


def test_render_markdown_states_provenance_counts_and_every_claim(claims, tmp_path, monkeypatch):
    files = _per_id_files(tmp_path)  # stores record the threads torch ran with (provenance)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the claims job's own threads do not count
    write_atomic(assemble(files), tmp_path / "claims.nc")
    text = render_markdown(read(tmp_path / "claims.nc"))
    revision = json.loads(read(tmp_path / "claims.nc").attrs["run_git_revisions"])[0][:10]
    threads = torch.get_num_threads()
    assert f"git {revision}" in text and f"torch threads per job: {threads}," in text and "seeds per study: 4" in text
    assert "**5 claims, 5 rows (claim × study):** 2 reproduced, 1 not reproduced, 1 inconclusive, 1 not run" in text
    assert text.index("## late-sam") < text.index("## sam-eos")
    # ours: estimate [interval] units, n, at 3 significant digits; the rule names its interval method
    assert "| 2.5 [0.446, 4.55] points, n = 4 | quantity of gap-positive > 0; 95 % t-interval of the mean |" in text
    assert "| 0.123 (exact), n = 1 |" in text and "| 1.2 points |" in text
    assert f"not run ({NOT_DRAWN})" in text


# ---- the README's generated block ----------------------------------------------------------


def test_readme_block_is_rewritten_between_its_markers_only(claims, tmp_path):
    ledger = assemble(_per_id_files(tmp_path))
    readme = f"# Title\n\nprose before\n\n{README_BEGIN}\nstale table\n{README_END}\n\nprose after\n"
    block = readme_block(ledger, "results/claims.nc")
    once = replace_readme_block(readme, block)
    assert once.startswith("# Title\n\nprose before\n\n") and once.endswith(f"{README_END}\n\nprose after\n")
    assert "stale table" not in once and replace_readme_block(once, block) == once
    assert block.startswith("Generated from results/claims.nc of a run at git ") and "torch threads per job: " in block and "claims, " in block
    assert re.search(r"\| LS-F3/gap-positive \| [\w-]+ \| statement of gap-positive \| quantity of gap-positive > 0 "
                     r"\| reproduced \| 2\.5 \[0\.446, 4\.55\] points \| 4 \|", block)
    with pytest.raises(ValueError, match="claims:begin"):
        replace_readme_block("# no markers\n", block)


# ---- the command line ----------------------------------------------------------------------


def test_cli_prints_filters_and_rewrites_the_readme(claims, tmp_path, capsys):
    write_atomic(assemble(_per_id_files(tmp_path)), tmp_path / "claims-paper.nc")
    assert main(["claims", str(tmp_path), "--namespace", "paper", "--verdict", "not reproduced"]) == 0
    out = capsys.readouterr().out
    assert "LS-F3/gap-negative" in out and "LS-F3/gap-positive" not in out and out.startswith("# Claims ledger")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\n{README_END}\n")
    assert main(["claims", str(tmp_path), "--namespace", "paper", "--readme", str(readme)]) == 0
    assert "Generated from results/claims-paper.nc of a run" in readme.read_text()
    assert "LB-F1/edge-ratio" in readme.read_text()


def test_cli_names_the_missing_ledger_and_the_missing_markers(claims, tmp_path, capsys):
    assert main(["claims", str(tmp_path)]) == 1
    assert f"no claims ledger {tmp_path}/claims.nc: run `make run` first" in capsys.readouterr().err
    write_atomic(assemble(_per_id_files(tmp_path)), tmp_path / "claims.nc")
    (tmp_path / "README.md").write_text("no markers\n")
    assert main(["claims", str(tmp_path), "--readme", str(tmp_path / "README.md")]) == 1
    assert "claims:begin" in capsys.readouterr().err and (tmp_path / "README.md").read_text() == "no markers\n"
    assert main(["claims", str(tmp_path), "--verdict", "maybe"]) == 1
