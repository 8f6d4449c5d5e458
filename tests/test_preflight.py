"""Preflight: inputs only the user can supply are listed while the Snakefile is read (a dry run
still plans) and stop a real run before any job; so does a missing GPU."""

from __future__ import annotations

import pytest

from conftest import tiny_study
from sharpness.config import ConfigError, validate_config
from sharpness.config.preflight import check_device, missing_inputs, missing_inputs_warning, stop_for_missing_inputs


def _config(**study) -> dict:
    return validate_config({"data_root": "nowhere", "studies": {"c10": {**tiny_study(), **study}}})


def test_a_dataset_neither_prepared_nor_on_disk_is_listed_by_key_and_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(dataset={"name": "cifar10", "download": False})
    [missing] = missing_inputs(config)
    assert missing.key == "studies.c10.dataset.download" and "nowhere/cifar-10-batches-py/data_batch_1" in missing.files
    assert "download: true" in str(missing) and str(missing) in missing_inputs_warning([missing])
    with pytest.raises(ConfigError, match=r"studies.c10.dataset.download.*cifar-10-batches-py/data_batch_1"):
        stop_for_missing_inputs([missing])
    assert missing_inputs(_config(dataset={"name": "cifar10", "download": True})) == []  # will be downloaded
    for name in ("data_batch_1", "test_batch", "batches.meta"):  # the native files, placed by hand
        (tmp_path / "nowhere/cifar-10-batches-py").mkdir(parents=True, exist_ok=True)
        (tmp_path / "nowhere/cifar-10-batches-py" / name).write_bytes(b"")
    assert missing_inputs(config) == []
    stop_for_missing_inputs([])


def test_a_prepared_dataset_needs_no_native_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results/data").mkdir(parents=True)
    (tmp_path / "results/data/svhn.pt").write_bytes(b"")
    assert missing_inputs(_config(dataset={"name": "svhn"})) == []


def test_pretrained_weights_are_listed_with_how_to_make_them(tmp_path):
    weights = tmp_path / "vit_b16.pth"
    config = _config(model={"name": "vit_b16", "weights": str(weights)})  # a valid config all the same
    [missing] = missing_inputs(config)
    assert missing.key == "studies.c10.model.weights" and missing.files == (str(weights),)
    assert "never downloaded" in missing.how and "vit_b_16" in missing.how
    weights.write_bytes(b"")
    assert missing_inputs(config) == []


def test_cuda_without_a_gpu_stops_a_local_run(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    config = _config(device="cuda")
    with pytest.raises(ConfigError, match="studies.c10.device"):
        check_device(config, local=True)
    check_device(config, local=False)  # a cluster's nodes check for themselves
    check_device(_config(), local=True)  # cpu studies need no GPU
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    check_device(config, local=True)  # inside a SLURM job: the node's torch decides
