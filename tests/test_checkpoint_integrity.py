"""Damaged or misplaced checkpoints are refused by name, never trained on or measured."""

from __future__ import annotations

import shutil

import pytest
import torch

from conftest import make_spec
from sharpness.data import load_prepared
from sharpness.train import Trainer, train_job
from sharpness.train import checkpoint as ckpt
from sharpness.train.hessian import final_spectra
from sharpness.train.landscape import SavedRuns

HESSIAN = {"k": 2, "n_samples": 40, "batch_size": 40, "tol": 1e-6, "max_hvp": 200, "bn_mode": "eval", "seed": 0}


def _flip_a_weight_byte(path, tensor: torch.Tensor) -> None:
    """Flip one byte inside ``tensor``'s stored bytes (torch does not check the zip's CRCs)."""
    raw = bytearray(path.read_bytes())
    needle = tensor.contiguous().view(torch.uint8).numpy().tobytes()[:64]
    at = raw.find(needle)
    assert at >= 0, "the tensor's bytes are stored verbatim"
    raw[at + 3] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_a_flipped_byte_or_a_truncated_file_is_refused_by_name(tmp_path):
    weights = torch.arange(1000, dtype=torch.float32)
    path = tmp_path / "epoch4.pt"
    ckpt.save_atomic({"epoch": 4, "model": {"w": weights}}, path)
    assert torch.equal(ckpt.load(path)["model"]["w"], weights)
    _flip_a_weight_byte(path, weights)
    with pytest.raises(ckpt.CheckpointError, match="epoch4.pt: contents do not match their checksum"):
        ckpt.load(path)
    ckpt.save_atomic({"epoch": 4, "model": {"w": weights}}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ckpt.CheckpointError, match="epoch4.pt: unreadable"):
        ckpt.load(path)


def test_a_damaged_state_is_set_aside_and_the_job_starts_over_bit_identically(digits_file, tmp_path):
    spec = make_spec((("sgd", 3),))
    reference = tmp_path / "reference"
    train_job(spec, digits_file, reference / "state", reference / "final.pt", reference / "run.nc", log=lambda m: None)
    run = tmp_path / "run"
    short = make_spec((("sgd", 2),))
    Trainer(short, load_prepared(digits_file), log=lambda m: None).run(run / "state")  # killed after epoch 2
    state = ckpt.latest_state(run / "state")
    state.write_bytes(state.read_bytes()[:100])  # ... while its state was being written
    messages = []
    train_job(spec, digits_file, run / "state", run / "final.pt", run / "run.nc", log=messages.append)
    assert any("epoch2.pt: unreadable" in m and "setting it aside" in m for m in messages)
    for key, value in ckpt.load(reference / "final.pt")["model"].items():
        assert torch.equal(value, ckpt.load(run / "final.pt")["model"][key]), key
    assert not (run / "state").exists()


def test_the_hessian_and_landscape_steps_refuse_another_runs_final_model(digits_file, tmp_path):
    specs = {optimizer: make_spec(((optimizer, 2),)).to_dict() for optimizer in ("sgd", "sam")}
    for optimizer, spec in specs.items():
        run = tmp_path / "seed0" / optimizer
        train_job(make_spec(((optimizer, 2),)), digits_file, run / "state", run / "final.pt", run / "run.nc", log=lambda m: None)
    final_spectra(tmp_path / "seed0", specs, digits_file, HESSIAN, tmp_path / "ok.nc", log=lambda m: None)
    saved = SavedRuns(make_spec((("sgd", 2),)), digits_file, n_samples=64, batch_size=64)
    saved.state(tmp_path / "seed0/sgd", specs["sgd"])
    shutil.copyfile(tmp_path / "seed0/sam/final.pt", tmp_path / "seed0/sgd/final.pt")
    with pytest.raises(ckpt.CheckpointError, match="sgd/final.pt: written by another run"):
        final_spectra(tmp_path / "seed0", {"sgd": specs["sgd"]}, digits_file, HESSIAN, tmp_path / "bad.nc", log=lambda m: None)
    with pytest.raises(ckpt.CheckpointError, match="sgd/final.pt: written by another run"):
        saved.state(tmp_path / "seed0/sgd", specs["sgd"])
