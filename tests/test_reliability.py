"""Reliability round two (issue 19): archives verified before SHA256SUMS lists them and no file
name reaching a shell; run files checked against the planned run; one owner per run; kept
checkpoints as targets; limits caught before any job; configs that are programs refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sharpness.archive_check import ArchiveError, verify_archive, write_checksums
from sharpness.store import StoreError, check_planned_settings, write_atomic
from sharpness.pipeline.stale import mark_damaged_archives, mark_incomplete_checkpoint_folders


# --- archives ---------------------------------------------------------------------------------


def _archive(folder: Path, study: str, store: bytes = b"CDF store bytes", recorded: str | None = None) -> Path:
    """An archive as write_archive lays it out, with a tiny fake store."""
    from sharpness.store.archive import write_archive

    store_path = folder / f"src-{study}" / f"{study}.nc"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store_path.write_bytes(store)
    out = folder / f"{study}.tar.gz"
    write_archive(str(out), str(store_path), {"kind": "toy"}, study)
    if recorded is not None:  # rewrite with another recorded store checksum
        raw = gzip.decompress(out.read_bytes())
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            contents = {m.name: tar.extractfile(m).read() for m in tar}
        prov = json.loads(contents[f"{study}/provenance.json"])
        contents[f"{study}/provenance.json"] = json.dumps({**prov, "store_sha256": recorded}).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, payload in contents.items():
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        out.write_bytes(gzip.compress(buffer.getvalue()))
    return out


def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_an_intact_archive_verifies_and_records_its_stores_checksum(tmp_path):
    path = _archive(tmp_path, "alpha", b"x" * 5000)
    assert verify_archive(path) == "alpha"
    with tarfile.open(path) as tar:
        prov = json.loads(tar.extractfile("alpha/provenance.json").read())
    assert prov["store_sha256"] == hashlib.sha256(b"x" * 5000).hexdigest()


def test_a_flipped_byte_fails_verification(tmp_path):
    path = _archive(tmp_path, "alpha", bytes(range(256)) * 40)
    _flip_byte(path)
    with pytest.raises(ArchiveError, match="alpha.tar.gz"):
        verify_archive(path)


def test_a_store_that_does_not_match_its_recorded_checksum_fails(tmp_path):
    path = _archive(tmp_path, "alpha", recorded="0" * 64)
    with pytest.raises(ArchiveError, match="does not match the SHA-256"):
        verify_archive(path)


def test_an_archive_renamed_to_another_study_fails(tmp_path):
    path = _archive(tmp_path, "alpha")
    with pytest.raises(ArchiveError, match="members"):
        verify_archive(path.rename(tmp_path / "beta.tar.gz"))


def test_checksums_list_planned_and_verified_archives_and_report_strays(tmp_path, capsys):
    folder = tmp_path / "archive"
    folder.mkdir()
    planned, other = _archive(folder, "alpha"), _archive(folder, "beta")
    damaged = _archive(folder, "gamma", bytes(range(256)) * 40)
    _flip_byte(damaged)
    hostile = folder / "x;touch INJECTED;.tar.gz"
    hostile.write_bytes(planned.read_bytes())
    (folder / "a b.tar.gz").write_bytes(b"junk")
    logged = []
    listed = write_checksums([str(planned)], folder / "SHA256SUMS", logged.append)
    assert listed == ["alpha.tar.gz", "beta.tar.gz"]
    sums = (folder / "SHA256SUMS").read_text().splitlines()
    assert sums == [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in (planned, other)]
    report, console = "\n".join(logged), capsys.readouterr().err
    for name in ("gamma.tar.gz", "x;touch INJECTED;.tar.gz", "a b.tar.gz"):
        assert name in report and name in console
    assert not (tmp_path / "INJECTED").exists() and not Path("INJECTED").exists()


def test_a_damaged_planned_archive_fails_the_checksums_and_is_marked_for_rebuild(tmp_path):
    planned = _archive(tmp_path, "alpha", bytes(range(256)) * 40)
    _flip_byte(planned)
    with pytest.raises(ArchiveError):
        write_checksums([str(planned)], tmp_path / "SHA256SUMS", print)
    assert planned.stat().st_mtime == 0 and not (tmp_path / "SHA256SUMS").exists()


def test_only_damaged_planned_archives_are_marked(tmp_path):
    intact, damaged = _archive(tmp_path, "alpha"), _archive(tmp_path, "beta", bytes(range(256)) * 40)
    _flip_byte(damaged)
    warnings = []
    marked = mark_damaged_archives([str(intact), str(damaged), str(tmp_path / "absent.tar.gz")], warnings.append)
    assert marked == [str(damaged)] and "beta.tar.gz" in warnings[0]
    assert damaged.stat().st_mtime == 0 and intact.stat().st_mtime > 0


def test_a_checkpoint_folder_missing_a_kept_checkpoint_is_marked(tmp_path):
    full, partial = tmp_path / "a/ckpt", tmp_path / "b/ckpt"
    for folder in (full, partial):
        folder.mkdir(parents=True)
        (folder / "epoch1.pt").write_bytes(b"")
    kept = {str(full): [str(full / "epoch1.pt")], str(partial): [str(partial / "epoch1.pt"), str(partial / "epoch2.pt")],
            str(tmp_path / "c/ckpt"): [str(tmp_path / "c/ckpt/epoch1.pt")]}  # not trained yet: Snakemake sees that
    warnings = []
    assert mark_incomplete_checkpoint_folders(kept, warnings.append) == [str(partial)]
    assert "epoch2.pt" in warnings[0] and partial.stat().st_mtime == 0 and full.stat().st_mtime > 0


# --- the same, through Snakemake -----------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402

from conftest import copy_workflow, tiny_study  # noqa: E402

WF_CONFIG = {"studies": {"solo": tiny_study(epochs=2, switch_epochs=[1], directions=["sgd->sam"])},
             "figures": {"formats": ["png"], "plots": {}}}


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "solo.yaml", *args],
                          cwd=workdir, capture_output=True, text=True)


def _ran(result: subprocess.CompletedProcess) -> set[str]:
    """The rules a run executed (the profile's progress lines: "[time] 3/5 done: rule")."""
    return set(re.findall(r"\d+/\d+ done: (\w+)", result.stdout + result.stderr)) - {"all"}


@pytest.fixture(scope="module")
def solo(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("solo") / "wf")
    (workdir / "solo.yaml").write_text(yaml.safe_dump(WF_CONFIG))
    result = _snakemake(workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_a_flipped_byte_in_an_archive_is_rebuilt_by_a_plain_run(solo):
    archive = solo / "results/archive/solo.tar.gz"
    intact = archive.read_bytes()
    _flip_byte(archive)
    result = _snakemake(solo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "solo.tar.gz" in result.stderr and "rebuilding it from its store" in result.stderr
    assert {"archive", "checksums"} <= _ran(result)
    assert archive.read_bytes() == intact
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=archive.parent, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Nothing to be done" in _snakemake(solo, "-n").stdout


@pytest.mark.slow
def test_hostile_archive_names_run_nothing_and_are_reported(solo):
    folder = solo / "results/archive"
    (folder / "x;touch INJECTED;.tar.gz").write_bytes((folder / "solo.tar.gz").read_bytes())
    (folder / "a b.tar.gz").write_bytes(b"junk")
    result = _snakemake(solo, "--forcerun", "checksums")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not list(solo.rglob("INJECTED")), "a file name was run as a command"
    assert (folder / "SHA256SUMS").read_text().split()[1::2] == ["solo.tar.gz"]
    log = (solo / "logs/archive/checksums.log").read_text()
    for name in ("x;touch INJECTED;.tar.gz", "a b.tar.gz"):
        assert name in log and name in result.stderr
    assert "Nothing to be done" in _snakemake(solo, "-n").stdout


@pytest.mark.slow
def test_a_deleted_kept_checkpoint_is_rebuilt_by_a_plain_run(solo):
    from sharpness.train import checkpoint as ckpt

    kept = solo / "results/solo/seed0/sgd/ckpt/epoch1.pt"
    intact = ckpt.load(kept)
    kept.unlink()
    result = _snakemake(solo)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "train_prefix" in _ran(result) and "epoch1.pt" in result.stderr
    assert ckpt.content_digest(ckpt.load(kept)) == ckpt.content_digest(intact)
    assert "Nothing to be done" in _snakemake(solo, "-n").stdout


# --- run files checked against the planned run -------------------------------------------------

from conftest import make_spec  # noqa: E402
from sharpness.runspec import RunIdentityError, check_run_identity  # noqa: E402


def test_a_run_file_of_other_settings_or_another_run_is_refused_naming_both():
    planned = make_spec((("sgd", 4),))
    check_run_identity("run.nc", planned.to_json(), planned)
    check_run_identity("run.nc", make_spec((("sgd", 4),), device="cuda").to_dict(), planned)  # device: same trajectory
    old_lr = make_spec((("sgd", 4),), lr_schedule={"name": "constant", "lr": 0.2})
    with pytest.raises(RunIdentityError, match=r"run.nc: written by another run.*'lr': 0.2.*the plan has.*'lr': 0.05"):
        check_run_identity("run.nc", old_lr.to_dict(), planned)
    with pytest.raises(RunIdentityError, match="'optimizer': 'sam'.*the plan has.*'optimizer': 'sgd'"):
        check_run_identity("run.nc", make_spec((("sam", 4),)).to_dict(), planned)
    with pytest.raises(RunIdentityError, match="no readable run spec"):
        check_run_identity("run.nc", None, planned)


def test_a_measurement_of_another_run_is_refused():
    from sharpness.runspec import check_derived_identity, run_identity

    planned, other = make_spec((("sgd", 4),)), make_spec((("sam", 4),))
    check_derived_identity("final_spectra.nc", run_identity(planned), planned, "final model of sgd")
    with pytest.raises(RunIdentityError, match="final_spectra.nc: its final model of sgd was measured on run"):
        check_derived_identity("final_spectra.nc", run_identity(other), planned, "final model of sgd")
    with pytest.raises(RunIdentityError):
        check_derived_identity("final_spectra.nc", None, planned, "final model of sgd")  # written by older code


@pytest.mark.slow
def test_collect_refuses_run_files_trained_at_settings_the_config_no_longer_plans(solo):
    from sharpness.config import validate_config
    from sharpness.store.switching import collect_switching_study

    changed = {**WF_CONFIG["studies"]["solo"], "lr_schedule": {"name": "constant", "lr": 0.2}}
    cfg = validate_config({"studies": {"solo": changed}, "figures": {"plots": {}}})["studies"]["solo"]
    with pytest.raises(RunIdentityError, match=r"seed0/sam/run.nc.*0.05.*the plan has.*0.2"):
        collect_switching_study(solo / "results/solo", cfg)


@pytest.mark.slow
def test_run_files_swapped_between_optimizers_are_refused(solo):
    seed = solo / "results/solo/seed0"
    for name in ("run.nc", "final.pt"):
        (seed / "sgd" / name).rename(seed / f"{name}.swap")
        (seed / "sam" / name).rename(seed / "sgd" / name)
        (seed / f"{name}.swap").rename(seed / "sam" / name)
        for opt in ("sgd", "sam"):
            (seed / opt / name).touch()
    result = _snakemake(solo, "--allowed-rules", "final_sharpness", "collect", "spectrum")
    assert result.returncode != 0
    log = (solo / "logs/solo/seed0/final_sharpness.log").read_text()
    assert re.search(r"seed0/sam/run.nc: written by another run.*'optimizer': 'sgd'.*the plan has.*'optimizer': 'sam'", log), log[-2000:]
    assert not (seed / "final_spectra.nc").exists()


# --- one owner per run ------------------------------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from sharpness.train.ownership import OwnershipError, OwnershipLost, own_run  # noqa: E402

HOLD = "import sys, time; from sharpness.train.ownership import own_run\nwith own_run(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n"


def _holder(state_dir: Path) -> subprocess.Popen:
    """Another process owning the run of ``state_dir`` until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(state_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_waits_then_refuses_naming_the_owner_and_gets_the_run_once_it_dies(tmp_path):
    state = tmp_path / ".state/seed0/sgd"
    proc = _holder(state)
    try:
        tic = time.monotonic()
        with pytest.raises(OwnershipError, match=rf"another job is writing this run \(pid {proc.pid}"):
            with own_run(state, wait_s=0.5):
                pass
        assert time.monotonic() - tic >= 0.5
    finally:
        proc.send_signal(signal.SIGKILL)  # no cleanup ran: the kernel released the lock
        proc.wait()
    with own_run(state, wait_s=0.5) as owner:
        assert owner.owns()


def test_an_owner_whose_state_folder_was_removed_stops_without_writing(tmp_path):
    import shutil

    from sharpness.train import checkpoint as ckpt

    state = tmp_path / "state"
    with own_run(state) as owner:
        ckpt.save_atomic({"epoch": 1}, state / "epoch1.pt")
        shutil.rmtree(state)  # a rerun (or a hand) removed it under this job
        with pytest.raises(OwnershipLost, match="stopping without writing"):
            ckpt.save_atomic({"epoch": 2}, state / "epoch2.pt")
        with pytest.raises(OwnershipLost):
            owner.check()
    assert not (state / "epoch2.pt").exists()


def test_a_training_job_refuses_a_run_another_job_is_writing(digits_file, tmp_path, monkeypatch):
    from sharpness.train import ownership, train_job

    monkeypatch.setattr(ownership, "WAIT_S", 0.5)
    run = tmp_path / "run"
    proc = _holder(run / "state")
    try:
        with pytest.raises(OwnershipError):
            train_job(make_spec((("sgd", 2),)), digits_file, run / "state", run / "final.pt", run / "run.nc", log=lambda m: None)
    finally:
        proc.kill()
        proc.wait()
    assert not (run / "final.pt").exists() and not (run / "run.nc").exists()
    assert (run / "state/.owner").exists(), "the owner's lock file is left in place for it"


def test_a_kept_checkpoint_is_never_another_epochs_state(tmp_path):
    from sharpness.train import checkpoint as ckpt
    from sharpness.train.job import _kept_source

    final = tmp_path / "epoch4.pt"
    finished = SimpleNamespace(history=SimpleNamespace(diverged=False), position=4, unit="epoch")
    with pytest.raises(ckpt.CheckpointError, match="epoch2.pt: the state at epoch 2 is missing"):
        _kept_source(finished, tmp_path, 2, final)
    (tmp_path / "epoch2.pt").write_bytes(b"")
    assert _kept_source(finished, tmp_path, 2, final) == tmp_path / "epoch2.pt"
    diverged = SimpleNamespace(history=SimpleNamespace(diverged=True), position=1, unit="epoch")
    assert _kept_source(diverged, tmp_path, 3, final) == final  # diverged before epoch 3: handed on as diverged


def test_a_temporary_being_written_by_a_live_process_is_not_removed(tmp_path):
    from sharpness.atomic import atomic_path

    target = tmp_path / "store.nc"
    code = (f"from sharpness.atomic import atomic_path\nimport time\nwith atomic_path({str(target)!r}) as tmp:\n"
            "    open(tmp, 'w').write('half'); print(tmp, flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        theirs = Path(proc.stdout.readline().strip())
        with atomic_path(target) as tmp:
            Path(tmp).write_text("mine")
        assert theirs.exists(), "another writer's write in progress was removed"
    finally:
        proc.kill()
        proc.wait()
    with atomic_path(target) as tmp:
        Path(tmp).write_text("again")
    assert not theirs.exists(), "a killed writer's temporary goes with the next write"


# --- full disk ---------------------------------------------------------------------------------

import errno  # noqa: E402


def test_a_full_disk_says_so_naming_the_file(tmp_path, monkeypatch):
    import sharpness.atomic as atomic

    target = tmp_path / "results/solo.nc"
    with pytest.raises(atomic.DiskFullError, match=rf"disk full: could not write {target}"):
        with atomic.atomic_path(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    # netCDF's HDF layer says only "HDF error": with the file system full, it is reported as such
    with pytest.raises(RuntimeError, match="^NetCDF: HDF error$"):  # space left: passed on unchanged
        with atomic.atomic_path(target):
            raise RuntimeError("NetCDF: HDF error")
    monkeypatch.setattr(atomic.os, "statvfs", lambda path: SimpleNamespace(f_bavail=3, f_frsize=4096))
    with pytest.raises(atomic.DiskFullError, match=rf"disk full: could not write {target}.*HDF error") as caught:
        with atomic.atomic_path(target):
            raise RuntimeError("NetCDF: HDF error")
    assert caught.value.errno == errno.ENOSPC
    assert not list(target.parent.glob(".*.tmp"))


# --- limits caught before any job -------------------------------------------------------------

from sharpness.config import ConfigError, validate_config  # noqa: E402
from sharpness.config.model_size import check_model_sizes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _config(**studies) -> dict:
    return validate_config({"studies": studies, "figures": {"plots": {}}})


def test_a_study_name_too_long_for_the_file_system_is_refused_naming_the_key():
    _config(**{"s" * 200: tiny_study()})
    with pytest.raises(ConfigError, match=r"config key 'studies\.s+…': a study name of 240 bytes.*255 bytes per name"):
        _config(**{"s" * 240: tiny_study()})


def test_more_eigenvalues_than_parameters_is_refused_naming_the_key():
    study = tiny_study()  # an 8-wide MLP on 8x8 digits: 64*8 + 8 + 8*10 + 10 = 610 parameters
    check_model_sizes(_config(solo={**study, "sharpness": {**study["sharpness"], "k": 610}}))
    with pytest.raises(ConfigError, match=r"'studies\.solo\.sharpness\.k': 611 eigenvalues asked of a model with 610 parameters"):
        check_model_sizes(_config(solo={**study, "sharpness": {**study["sharpness"], "k": 611}}))


def test_a_width_that_cannot_fit_in_memory_is_refused_naming_the_key():
    wide = {**tiny_study(), "model": {"name": "mlp", "width": 2_000_000, "depth": 2}}  # 4e12 parameters
    with pytest.raises(ConfigError, match=r"'studies\.wide\.model\.width': the model has 4,000,\S+ parameters.*GiB"):
        check_model_sizes(_config(wide=wide), available=64 * 2**30)
    budgeted = {**tiny_study(), "model": {"name": "mlp", "width": 4096, "depth": 2}, "resources": {"mem_mb": 100}}
    with pytest.raises(ConfigError, match=r"'studies\.budgeted\.model\.width'.*0\.1 GiB"):
        check_model_sizes(_config(budgeted=budgeted))


def test_shipped_configs_pass_the_model_size_checks():
    from sharpness.config import load_config

    for path in [ROOT / "config.yaml", *sorted((ROOT / "configs/paper").glob("*.yaml"))]:
        check_model_sizes(load_config(path), available=16 * 2**30)


@pytest.mark.slow
def test_a_run_asking_more_eigenvalues_than_parameters_stops_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    study = tiny_study()
    config = {"studies": {"solo": {**study, "sharpness": {**study["sharpness"], "k": 5000}}}, "figures": {"plots": {}}}
    (workdir / "solo.yaml").write_text(yaml.safe_dump(config))
    result = _snakemake(workdir)
    assert result.returncode != 0 and "studies.solo.sharpness.k" in result.stdout + result.stderr
    made = [p for p in (workdir / "results").rglob("*") if p.is_file() and ".code" not in p.parts]  # .code: parse-time digests
    assert not made, f"no job ran: {made}"


# --- configs that are programs ------------------------------------------------------------------


@pytest.mark.parametrize("text, says", [
    ("__use_yte__: true\nstudies: {}\n", "__use_yte__"),
    ("studies: !!python/object/apply:os.system ['touch INJECTED']\n", "not plain YAML data"),
])
def test_validate_refuses_a_config_that_is_a_program_naming_the_file(tmp_path, capsys, monkeypatch, text, says):
    from sharpness.cli import main

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and says in err
    assert not (tmp_path / "INJECTED").exists()


def test_a_report_refuses_a_store_built_under_other_settings(tmp_path):
    """Issue 19.1 at the report: the store's recorded settings must be those the config plans."""
    planned = {"lr_schedule": {"name": "constant", "lr": 0.2}, "seeds": [0, 1]}
    store = xr.Dataset({"x": ("seed", np.zeros(2), {"units": "1", "long_name": "x"})},
                       attrs={"config": json.dumps({**planned, "lr_schedule": {"name": "constant", "lr": 0.05}})})
    write_atomic(store, tmp_path / "s.nc")
    with pytest.raises(StoreError, match="differ in lr_schedule"):
        check_planned_settings(tmp_path / "s.nc", "s", planned)
    write_atomic(store.assign_attrs(config=json.dumps(planned)), tmp_path / "s.nc")
    check_planned_settings(tmp_path / "s.nc", "s", planned)  # the settings it was built with: accepted
