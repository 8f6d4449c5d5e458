"""The Snakemake workflow end to end on a temporary copy: outputs, rerun semantics, archive,
report, lint and formatting, malformed configs, and dry runs of the paper configs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import copy_workflow, tiny_study
from sharpness.store import STORE_LAYOUT

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.slow


SPECTRUM = {
    "runs": ["sgd", "sam"],
    "epochs": [1, 3],
    "n_samples": 100,
    "batch_size": 100,
    "k": 2,
    "trace": {"n_hvp": 9},
    "density": {"min": -1.0, "max": 3.0, "n_grid": 50, "bandwidth": 0.1, "n_probes": 2, "lanczos_steps": 10},
    "power_steps": 5,
}

DYNAMICS = {
    "kind": "dynamics",
    "dataset": {"name": "digits", "n_train": 100, "preprocess": "center"},
    "model": {"name": "mlp", "width": 8, "depth": 1, "activation": "tanh"},
    "loss": "mse",
    "seeds": [0],
    "steps": 12,
    "batch_size": "full",
    "grid": {"lr": [0.5], "rho": [0.0, 0.05]},
    "schedules": ["sam", "gd->sam@6"],
    "measure_every": 4,
    "measure": {"k": 2},
}

TINY_CONFIG = {
    "studies": {
        "alpha": {**tiny_study(0.05), "spectrum": SPECTRUM},
        "beta": tiny_study(0.1, switch_epochs=[1], directions=["sam->sgd"]),
        # Diverges in its first epoch: recorded, and the study still completes.
        "omega": tiny_study(1e6, epochs=2, switch_epochs=[1], directions=["sgd->sam"]),
        # alpha's runs, trained one job per seed.
        "kappa": {**tiny_study(0.05), "granularity": "seed"},
        "delta": DYNAMICS,
        "epsilon": {**DYNAMICS, "granularity": "seed"},  # delta's runs, one job per seed
        "eta": {"kind": "toy", "problem": "quadratic_regression", "seeds": [0, 1],
                "options": {"D": 4, "P": 6, "steps": 20, "record_every": 5, "lr": [0.05], "rho": [0.0, 0.02]}},
        "theta": {"kind": "landscape", "source": "alpha", "switch_epoch": 2, "n_samples": 50,
                  "interpolation": {"min": -0.2, "max": 1.2, "step": 0.1, "h": 0.1},
                  "plane": {"points": 3, "draws": 1}, "escape": {"trials": 3, "steps": 4, "record_every": 2}},
    },
    "figures": {
        "dpi": 60,
        "formats": ["png"],
        "plots": {
            "LS-F1": {"study": "alpha"},
            "LS-F3": {"studies": ["alpha", "omega"]},
            "LS-F5": {"studies": ["beta"]},
            "ES-F3": {"studies": ["alpha"]},
            "ES-F5": {"studies": ["alpha"]},
            "LS-T2": {"studies": ["alpha"]},
            "LB-F1": {},
            "LB-F2": {"study": "delta"},
            "LS-F10": {"study": "delta"},
            "FH-F7": {"study": "eta"},
            "LS-F4b": {"study": "theta"},
            "LS-F4c": {"study": "theta"},
            "LS-F14": {"study": "theta"},
        },
    },
}


def _snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _planned(workdir: Path) -> list[tuple[str, str]]:
    """(rule, output) of every job a dry run schedules."""
    out = _snakemake(workdir, "-n").stdout
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:.*\n)*?    output: (.*)$", out, flags=re.M)
    return [(rule, output) for rule, output in jobs if rule != "all"]


def _planned_after_editing(workdir: Path, module: str) -> list[tuple[str, str]]:
    """The jobs a dry run plans once ``src/sharpness/<module>`` has a code edit (then undone; a
    comment-only edit plans nothing: tests/test_workflow_code.py)."""
    path = workdir / "src/sharpness" / module
    original = path.read_text()
    path.write_text(original + "\n_EDITED = True\n")
    try:
        return _planned(workdir)
    finally:
        path.write_text(original)


def _write_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    """A copy of the workflow, run once on a tiny two-study config."""
    workdir = tmp_path_factory.mktemp("workflow")
    copy_workflow(workdir, extra=("configs",))
    _write_config(workdir, TINY_CONFIG)
    _snakemake(workdir)
    return workdir


def test_run_produces_stores_figures_tables_and_archive(workflow):
    store = xr.open_dataset(workflow / "results/alpha/alpha.nc")
    assert not [v for v in store.variables if not {"units", "long_name"} <= set(store[v].attrs)], "CF attributes on every variable"
    assert store.diverged.attrs["long_name"] == "1 if the run diverged"
    assert dict(store.test_error.sizes) == {"seed": 1, "direction": 2, "switch_epoch": 4, "epoch": 3}
    assert dict(store.eigenvalues.sizes) == {"seed": 1, "direction": 2, "switch_epoch": 4, "eig_index": 2}
    assert list(store.test_error.dims) == ["seed", "direction", "switch_epoch", "epoch"]
    assert list(store.lambda_max.dims) == ["seed", "direction", "switch_epoch"]
    # Trained: two pure runs of 3 epochs, branches at t=1 (2 epochs left) and t=2 (1) per direction.
    assert store.attrs["epochs_trained"] == 2 * 3 + 2 * (2 + 1)
    assert store.attrs["epochs_naive"] == (2 + 2 * 2) * 3
    # The pure runs are shared: SGD→SAM at t=T is SAM→SGD at t=0.
    sgd = store.sel(seed=0)
    assert float(sgd.lambda_max.sel(direction="sgd->sam", switch_epoch=3)) == float(sgd.lambda_max.sel(direction="sam->sgd", switch_epoch=0))
    for fig_id in ("LS-F1", "LS-F3", "LS-F5"):
        assert (workflow / f"results/figures/{fig_id}.png").stat().st_size > 1000
        assert xr.open_dataset(workflow / f"results/figures/{fig_id}.nc").attrs["figure"] == fig_id
    table = (workflow / "results/tables/LS-F3.csv").read_text().splitlines()
    assert table[0].startswith("study,switch_epoch,sam_proportion") and len(table) == 1 + 4 + 3


def test_checkpoint_spectra_reach_the_store_figures_and_table(workflow):
    store = xr.open_dataset(workflow / "results/alpha/alpha.nc")
    assert dict(store.density.sizes) == {"seed": 1, "optimizer": 2, "checkpoint_epoch": 2, "eigenvalue": 50}
    # Same final model, same subset: the spectrum's λ1 at T is the final sharpness's λmax.
    for opt, direction, t in (("sgd", "sgd->sam", 3), ("sam", "sgd->sam", 0)):
        spectrum_top = float(store.spectrum_eigenvalues.sel(seed=0, optimizer=opt, checkpoint_epoch=3, spectrum_eig_index=0))
        final_top = float(store.lambda_max.sel(seed=0, direction=direction, switch_epoch=t))
        assert abs(spectrum_top - final_top) <= 1e-3 * abs(final_top)
    assert store.trace.notnull().all() and (store.gamma > 0).all()
    density = store.density.isel(seed=0, optimizer=0, checkpoint_epoch=-1)
    assert abs(float(density.integrate("eigenvalue")) - 1) < 0.05
    assert xr.open_dataset(workflow / "results/figures/ES-F5.nc").alignment_mean.max() <= 1 + 1e-9
    t2 = (workflow / "results/tables/LS-T2.csv").read_text().splitlines()
    assert t2[0].startswith("study,optimizer,epoch") and len(t2) == 3


def test_per_seed_jobs_train_the_runs_per_run_jobs_train(workflow):
    """kappa is alpha trained one job per seed: the same runs, bit for bit, in one job."""
    for run in ("sgd", "sam", "sgd-sam/t1", "sgd-sam/t2", "sam-sgd/t1", "sam-sgd/t2"):
        a = xr.open_dataset(workflow / f"results/alpha/seed0/{run}/run.nc")
        k = xr.open_dataset(workflow / f"results/kappa/seed0/{run}/run.nc")
        for var in ("train_loss", "test_error", "grad_norm"):
            np.testing.assert_array_equal(a[var].values, k[var].values)
    logs = sorted(p.relative_to(workflow / "logs/kappa").as_posix() for p in (workflow / "logs/kappa").rglob("*.log"))
    assert logs == ["collect.log", "final_sharpness.log", "seed0/train.log"], "one training job per seed, one Hessian job per study"
    store = xr.open_dataset(workflow / "results/kappa/kappa.nc")
    np.testing.assert_array_equal(store.lambda_max.values, xr.open_dataset(workflow / "results/alpha/alpha.nc").lambda_max.values)


def test_changing_a_per_seed_study_retrains_its_seed_jobs_only(workflow):
    config = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    config["studies"]["kappa"]["switching"]["switch_epochs"] = [1]
    _write_config(workflow, config)
    try:
        jobs = _planned(workflow)
    finally:
        _write_config(workflow, TINY_CONFIG)
    rules = {rule for rule, _ in jobs}
    assert "train_seeds__kappa" in rules and not rules & {"train_prefix", "train_branch"}
    assert not any("results/alpha/" in output for _, output in jobs)


def test_diverged_study_is_recorded_not_fatal(workflow):
    store = xr.open_dataset(workflow / "results/omega/omega.nc")
    assert (store.diverged == 1).all() and (store.diverged_epoch == 1).all()
    assert store.lambda_max.isnull().all() and store.test_loss.isel(epoch=-1).isnull().all()
    figure = xr.open_dataset(workflow / "results/figures/LS-F3.nc")
    assert (figure.n_seeds.sel(study="omega").dropna("switch_epoch") == 0).all()  # T=2: no switch epoch 3
    assert (figure.n_seeds.sel(study="alpha") == 1).all()
    assert "omega" in (workflow / "results/tables/LS-F3.csv").read_text()


def test_archive_checksums_verify(workflow):
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=workflow / "results/archive", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    listing = subprocess.run(["tar", "tzf", "results/archive/alpha.tar.gz"], cwd=workflow, capture_output=True, text=True).stdout
    # The study alone: which figures use it is another config's business.
    assert set(listing.split()) == {"alpha/alpha.nc", "alpha/config.yaml", "alpha/provenance.json"}


def test_nothing_to_do_after_a_run(workflow):
    assert _planned(workflow) == []


def test_every_netcdf_file_the_run_writes_has_cf_attributes_on_every_variable_and_coordinate(workflow):
    """…and says which layout it is in, so that a reader can refuse another layout."""
    files = sorted((workflow / "results").rglob("*.nc"))
    assert len(files) > 30
    missing, unversioned = [], []
    for path in files:
        with xr.open_dataset(path) as ds:
            missing += [f"{path.relative_to(workflow)}:{v}" for v, var in ds.variables.items() if not {"units", "long_name"} <= set(var.attrs)]
            if ds.attrs.get("store_layout") != str(STORE_LAYOUT):
                unversioned.append(path.relative_to(workflow))
    assert not missing, missing[:20]
    assert not unversioned, unversioned[:20]


def test_every_rule_logs_where_the_readme_says(workflow):
    """logs/<study>/…, logs/data/, logs/report/, logs/claims/ and logs/archive/; each log ends with its timing."""
    logs = sorted((workflow / "logs").rglob("*.log"))
    top = {p.relative_to(workflow / "logs").parts[0] for p in logs}
    assert top <= set(TINY_CONFIG["studies"]) | {"data", "report", "claims", "archive"}, top
    assert {"data", "report", "claims", "archive"} <= top
    untimed = [p for p in logs if p.name != "checksums.log" and "step timing at" not in p.read_text()]
    assert not untimed, untimed[:5]


def test_a_lost_run_file_is_rebuilt_by_a_plain_run(workflow, tmp_path):
    """A forced rerun killed mid-epoch leaves a run's files deleted under an up-to-date store:
    the per-run files are targets, so a plain run rebuilds them."""
    lost = workflow / "results/beta/seed0/sgd/run.nc"
    kept = tmp_path / "run.nc"
    shutil.move(lost, kept)
    try:
        jobs = _planned(workflow)
    finally:
        shutil.move(kept, lost)
    assert any(rule == "train_prefix" and "results/beta/seed0/sgd/run.nc" in output for rule, output in jobs), jobs
    assert _planned(workflow) == []


def test_changing_dpi_redraws_figures_only(workflow):
    config = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    config["figures"]["dpi"] = 80
    _write_config(workflow, config)
    try:
        rules = {rule for rule, _ in _planned(workflow)}
    finally:
        _write_config(workflow, TINY_CONFIG)
    assert rules == REPORT_JOBS


def test_changing_one_study_reruns_that_study_only(workflow):
    config = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    config["studies"]["beta"]["lr_schedule"]["lr"] = 0.2
    _write_config(workflow, config)
    try:
        jobs = _planned(workflow)
    finally:
        _write_config(workflow, TINY_CONFIG)
    assert {rule for rule, _ in jobs} >= {"train_prefix", "train_branch", "final_sharpness", "collect"}
    # Nothing of another study is trained, measured, collected or archived again (the figures
    # that show beta's numbers are redrawn).
    assert not any(f"results/{other}/" in output for _, output in jobs for other in ("alpha", "omega", "kappa", "delta"))


# One report job per report module that the tiny config's figures use.
REPORT_JOBS = {f"report__{m}" for m in ("switching", "spectrum", "analytic", "dynamics", "toys", "landscape")}
TRAINING_AND_HESSIANS = {"train_prefix", "train_branch", "final_sharpness", "spectrum", "dynamics_prefix", "dynamics_branch"}


@pytest.mark.parametrize(
    "module, expected, forbidden",
    [
        ("report/switching.py", {"report__switching"}, {"train_prefix", "train_branch", "final_sharpness", "collect", "report__dynamics"}),
        ("train/loop.py", {"train_prefix", "train_branch", "train_seeds__kappa", "final_sharpness"}, set()),
        ("pipeline/switching/train_seeds.py", {"train_seeds__kappa"}, {"train_prefix", "train_branch"}),
        ("pipeline/switching/train.py", {"train_prefix", "train_branch"}, {"train_seeds__kappa"}),
        ("store/archive.py", {"archive"}, TRAINING_AND_HESSIANS | {"collect", "dynamics_collect"} | REPORT_JOBS),
        ("report/spectrum.py", {"report__spectrum"}, TRAINING_AND_HESSIANS | {"collect", "report__dynamics"}),  # LS-T2's reducer
        ("pipeline/switching/collect.py", {"collect"}, TRAINING_AND_HESSIANS),  # one step's log line
        ("train/dynamics.py", {"dynamics_prefix", "dynamics_branch"}, {"train_prefix", "train_branch", "final_sharpness", "spectrum"}),
        ("store/dynamics.py", {"dynamics_prefix", "dynamics_branch", "dynamics_collect"}, {"train_prefix", "collect", "final_sharpness"}),
    ],
)
def test_editing_code_reruns_the_stages_that_use_it(workflow, module, expected, forbidden):
    rules = {rule for rule, _ in _planned_after_editing(workflow, module)}
    assert expected <= rules and not (forbidden & rules)


def test_editing_one_kinds_report_redraws_its_figures_only(workflow):
    # The claims reuse the report's reductions (last-quarter medians…), so the ledger is
    # recomputed too; no other report module's figures are redrawn and nothing is retrained.
    jobs = _planned_after_editing(workflow, "report/dynamics.py")
    assert {rule for rule, _ in jobs} == {"report__dynamics", "claims", "ledger"}


def test_dynamics_study_store_and_figures(workflow):
    store = xr.open_dataset(workflow / "results/delta/delta.nc")
    assert dict(store.eigenvalues.sizes) == {"seed": 1, "schedule": 3, "lr": 1, "rho": 2, "step": 4, "eig_index": 2}
    assert list(store.schedule.values) == ["sam", "gd->sam@6", "gd"]
    assert list(store.step.values) == [0, 4, 8, 12]
    pure = store.sel(schedule="gd", rho=0.05)
    np.testing.assert_array_equal(pure.eigenvalues, store.sel(schedule="sam", rho=0.0).eigenvalues)  # SAM at rho = 0 is GD
    switched = store.sel(schedule="gd->sam@6", rho=0.05)
    np.testing.assert_array_equal(switched.train_loss.sel(step=[0, 4]), pure.train_loss.sel(step=[0, 4]))  # the shared prefix
    assert not np.array_equal(switched.train_loss.sel(step=12), pure.train_loss.sel(step=12))
    assert (store.diverged == 0).all() and store.attrs["steps_trained"] == 12 + 12 + 6
    files = [workflow / "results/delta/delta.nc", *(workflow / "results/delta").rglob("run.nc")]
    for fig_id in ("LB-F1", "LB-F2", "LS-F10"):
        assert (workflow / f"results/figures/{fig_id}.png").stat().st_size > 1000
        assert xr.open_dataset(workflow / f"results/figures/{fig_id}.nc").attrs["figure"] == fig_id
        files.append(workflow / f"results/figures/{fig_id}.nc")
    for path in files:  # CF attributes on every variable
        with xr.open_dataset(path) as ds:
            assert not [v for v in ds.data_vars if not {"units", "long_name"} <= set(ds[v].attrs)], path


def test_per_seed_dynamics_jobs_train_the_runs_per_run_jobs_train(workflow):
    for run_nc in (workflow / "results/delta").rglob("run.nc"):
        twin = workflow / "results/epsilon" / run_nc.relative_to(workflow / "results/delta")
        a, b = xr.open_dataset(run_nc), xr.open_dataset(twin)
        for var in ("eigenvalues", "train_loss", "grad_norm"):
            np.testing.assert_array_equal(a[var].values, b[var].values)
    assert [p.name for p in (workflow / "logs/epsilon").rglob("train.log")] == ["train.log"]


def test_toy_and_landscape_studies_reach_their_figures(workflow):
    toy = xr.open_dataset(workflow / "results/eta/eta.nc")
    assert dict(toy.ntk_max.sizes) == {"seed": 2, "lr": 1, "rho": 2, "step": 5}
    land = xr.open_dataset(workflow / "results/theta/theta.nc")
    assert dict(land.interpolation_loss.sizes) == {"seed": 1, "lam": 15, "split": 2}
    assert dict(land.escape_loss.sizes) == {"trial": 3, "escape_step": 3, "split": 2}
    assert land.attrs["switched_run"] == "sgd-sam/t2" and land.attrs["pure_run"] == "sgd"
    # λ = 1 is the pure SGD model, whose escape starts from the same loss.
    assert float(land.interpolation_loss.sel(lam=1.0, split="train", seed=0)) == pytest.approx(float(land.escape_loss.isel(trial=0, escape_step=0).sel(split="train")), rel=1e-6)
    for fig_id in ("FH-F7", "LS-F4b", "LS-F4c", "LS-F14"):
        assert (workflow / f"results/figures/{fig_id}.png").stat().st_size > 1000
        with xr.open_dataset(workflow / f"results/figures/{fig_id}.nc") as ds:
            assert not [v for v in ds.data_vars if not {"units", "long_name"} <= set(ds[v].attrs)], fig_id


def test_editing_the_landscape_analysis_reruns_it_and_no_training(workflow):
    rules = {rule for rule, _ in _planned_after_editing(workflow, "train/landscape.py")}
    assert "landscape_analyse" in rules and not (rules & {"train_prefix", "train_branch", "toy_simulate", "dynamics_prefix"})


def test_report_is_browsable(workflow):
    import zipfile

    _snakemake(workflow, "--report", "results/report.zip")
    assert (workflow / "results/report.zip").stat().st_size > 10_000
    with zipfile.ZipFile(workflow / "results/report.zip") as archive:
        pages = "".join(archive.read(n).decode(errors="replace") for n in archive.namelist() if n.endswith((".html", ".js")))
        assert any(n.endswith("/claims.md") for n in archive.namelist()), "the claims ledger is in the report"
    assert "ES-F5" in pages and "Undefined substitution" not in pages, "captions with |…| are escaped for reStructuredText"


def test_malformed_config_fails_the_dry_run_naming_the_key(workflow, tmp_path):
    config = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    config["studies"]["alpha"]["optimizers"]["sam"]["rho"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = _snakemake(workflow, "-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "studies.alpha.optimizers.sam.rho" in result.stdout + result.stderr


def _paper_weights_stand_in(workdir: Path) -> None:
    """ES-T2 reads the user's pretrained weights: an empty stand-in file is enough to plan it."""
    (workdir / "pretrained").mkdir(exist_ok=True)
    (workdir / "pretrained/vit_b_16-c867db91.pth").write_bytes(b"")


def _assert_plans_every_stage(result: subprocess.CompletedProcess, configs: list[Path]) -> None:
    """A dry run of ``configs`` together schedules every stage once per distinct run: each
    prefix and branch of a switching study, each run of a dynamics study, one archive per study."""
    from sharpness.config import Study, validate_config
    from sharpness.pipeline import study_rule_name

    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M)}
    studies = {}
    for path in configs:
        for name, cfg in validate_config(yaml.safe_load(path.read_text()))["studies"].items():
            studies[name] = Study(name, cfg)
    studies = list(studies.values())
    kinds = {study.kind for study in studies}
    assert counts["archive"] == len(studies) and any(rule.startswith("report__") for rule in counts)
    if kinds & {"switching", "dynamics"}:
        assert counts["prepare_dataset"] >= 1
    if "switching" in kinds:
        switching = [s for s in studies if s.kind == "switching"]
        assert {"final_sharpness", "collect"} <= set(counts)
        per_run = [s for s in switching if not s.per_seed_jobs]  # the others: one train_seeds job per seed
        assert counts.get("train_prefix", 0) == sum(len(s.prefix_optimizers) * len(s.seeds) for s in per_run)
        assert counts.get("train_branch", 0) == sum(len(s.branch_runs()) * len(s.seeds) for s in per_run)
        for study in (s for s in switching if s.per_seed_jobs):
            assert counts[study_rule_name("train_seeds", study.name)] == len(study.seeds)
    if "dynamics" in kinds:
        dynamics = [s for s in studies if s.kind == "dynamics"]
        assert counts["dynamics_prefix"] == sum(len(s.prefix_runs) * len(s.seeds) for s in dynamics)
        assert counts.get("dynamics_branch", 0) == sum(len(s.branch_runs) * len(s.seeds) for s in dynamics)
        assert counts["dynamics_collect"] == len(dynamics)
    for kind, rule in (("toy", "toy_simulate"), ("landscape", "landscape_analyse")):
        assert counts.get(rule, 0) == sum(s.kind == kind for s in studies)


PAPER_CONFIGS = sorted((ROOT / "configs/paper").glob("*.yaml"))


# A dataset not on disk: listed by a dry run, a real run stopped (tests/test_workflow_code.py).


def test_cuda_without_a_gpu_plans_but_stops_a_local_run_before_any_job(workflow, tmp_path):
    import os

    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump({"studies": {"gpu": {**tiny_study(), "device": "cuda"}}}))
    _snakemake(workflow, "-n", "--configfile", str(path))  # a dry run may be meant for a cluster
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([*SNAKEMAKE, "--configfile", str(path)], cwd=workflow, capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "studies.gpu.device" in result.stdout + result.stderr
    assert not (workflow / "results/gpu").exists(), "stopped before any job"


@pytest.mark.parametrize("paper_config", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_paper_config_plans_fully(workflow, paper_config, monkeypatch):
    monkeypatch.chdir(workflow)  # where the config's relative paths (pretrained weights) are read
    _paper_weights_stand_in(workflow)
    result = _snakemake(workflow, "-n", "--configfile", str(paper_config))
    _assert_plans_every_stage(result, [paper_config])


def test_the_whole_paper_catalogue_plans_at_once_each_run_once(workflow, monkeypatch):
    """`snakemake -n --configfile configs/paper/*.yaml`: the studies the configs share (LS-F3,
    F4 and F5's; LS-F7 and F9's) are planned once, and every figure lands in results/figures/paper/."""
    monkeypatch.chdir(workflow)
    _paper_weights_stand_in(workflow)
    result = _snakemake(workflow, "-n", "--configfile", *map(str, PAPER_CONFIGS))
    _assert_plans_every_stage(result, PAPER_CONFIGS)
    figures = set(re.findall(r"results/figures/[\w/.-]+", result.stdout))
    assert figures and all(f.startswith("results/figures/paper/") for f in figures)


def test_workflow_lints_clean_and_is_formatted():
    lint = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0 and "good condition" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules"], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def _snapshot(workdir: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(workdir).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in (workdir / "results").rglob("*") if p.is_file()}


def test_running_another_config_changes_none_of_this_ones_outputs(tmp_path):
    """Config A draws LS-F3 from its study; config B shares A's study unchanged, adds its own and
    draws LS-F3 too, in the namespace `b`. Running B retrains nothing of A's, rewrites none of
    A's files, and A is still complete; SHA256SUMS then covers every archive present."""
    workdir = tmp_path / "wf"
    copy_workflow(workdir)
    shared = tiny_study(epochs=2, switch_epochs=[1], directions=["sgd->sam"])
    a = {"studies": {"shared": shared}, "figures": {"formats": ["png"], "plots": {"LS-F3": {"studies": ["shared"]}}}}
    b = {"studies": {"shared": shared, "own": {**shared, "lr_schedule": {"name": "constant", "lr": 0.1}}},
         "figures": {"formats": ["png"], "namespace": "b", "plots": {"LS-F3": {"studies": ["shared", "own"]}}}}
    for name, cfg in (("a", a), ("b", b)):
        (workdir / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    _snakemake(workdir, "--configfile", "a.yaml")
    before = _snapshot(workdir)
    _snakemake(workdir, "--configfile", "b.yaml")
    after = _snapshot(workdir)
    changed = sorted(path for path in before if after[path] != before[path])
    assert changed == ["results/archive/SHA256SUMS"], changed
    assert "results/figures/b/LS-F3.png" in after and "results/own/own.nc" in after
    assert "Nothing to be done" in _snakemake(workdir, "-n", "--configfile", "a.yaml").stdout
    sums = (workdir / "results/archive/SHA256SUMS").read_text()
    assert "shared.tar.gz" in sums and "own.tar.gz" in sums
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=workdir / "results/archive").returncode == 0
    # Rebuilt from the same inputs, a store and an archive are byte-identical (no timestamps inside).
    store, archive = workdir / "results/shared/shared.nc", workdir / "results/archive/shared.tar.gz"
    first = store.read_bytes(), archive.read_bytes()
    _snakemake(workdir, "--configfile", "a.yaml", "--forcerun", "collect", "archive")
    assert (store.read_bytes(), archive.read_bytes()) == first
