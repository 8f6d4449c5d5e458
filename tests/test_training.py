"""Determinism of the training loop: exact prefixes, exact resume, divergence recorded."""

import numpy as np
from dataclasses import replace

import pytest
import torch

from sharpness.data import load_prepared
from sharpness.store import read
from sharpness.train import Trainer, epoch_seed, train_job
from sharpness.train import checkpoint as ckpt

from conftest import make_spec


def _weights(path):
    return ckpt.load(path)["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _train(spec, digits_file, tmp_path, name, **kwargs):
    out = tmp_path / name
    train_job(spec, digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None, **kwargs)
    return out


def test_switched_run_equals_its_prefix_bit_for_bit_and_resumes_from_it(digits_file, tmp_path):
    """SGD→SAM switched at t equals SGD up to t; resuming the SGD checkpoint at t gives the
    same final weights as training the switched schedule from scratch."""
    t, T = 2, 4
    prefix = _train(make_spec((("sgd", T),)), digits_file, tmp_path, "sgd", keep={t: str(tmp_path / "sgd_t2.pt")})
    switched = make_spec((("sgd", t), ("sam", T)))
    branch = _train(switched, digits_file, tmp_path, "branch", start_from=str(tmp_path / "sgd_t2.pt"))
    scratch = _train(switched, digits_file, tmp_path, "scratch")
    _assert_same_weights(_weights(branch / "final.pt"), _weights(scratch / "final.pt"))
    runs = [read(p / "run.nc") for p in (prefix, branch, scratch)]
    for var in ("train_loss", "test_error", "grad_norm"):
        assert list(runs[0][var].values[:t]) == list(runs[2][var].values[:t])  # identical up to t
        assert list(runs[1][var].values) == list(runs[2][var].values)
    assert list(runs[2]["optimizer"].values) == ["sgd", "sgd", "sam", "sam"]
    assert runs[1].attrs["epochs_trained"] == T - t and runs[2].attrs["epochs_trained"] == T


def test_interrupted_job_resumes_to_bit_identical_weights(digits_file, tmp_path):
    spec = make_spec((("sgd", 2), ("sam", 4)))
    full = _train(spec, digits_file, tmp_path, "full")
    # Simulate a job killed after epoch 3: its state dir holds epochs ≤ 3 only.
    interrupted = tmp_path / "interrupted"
    trainer = Trainer(make_spec((("sgd", 2), ("sam", 3)), epochs=3), load_prepared(digits_file), log=lambda m: None)
    trainer.run(interrupted / "state")
    assert ckpt.latest_state(interrupted / "state").name == "epoch3.pt"
    messages = []
    train_job(spec, digits_file, interrupted / "state", interrupted / "final.pt", interrupted / "run.nc", log=messages.append)
    assert any("resuming from" in m and "epoch3.pt" in m for m in messages)
    _assert_same_weights(_weights(full / "final.pt"), _weights(interrupted / "final.pt"))
    assert list(read(full / "run.nc").test_loss.values) == list(read(interrupted / "run.nc").test_loss.values)


def _interrupted_state(spec, digits_file, state_dir, epochs):
    """The state a job of one-phase ``spec`` leaves when killed after ``epochs`` epochs."""
    short = replace(spec, epochs=epochs, phases=(replace(spec.phases[0], until_epoch=epochs),))
    Trainer(short, load_prepared(digits_file), log=lambda m: None).run(state_dir)


@pytest.mark.parametrize("stale", ["settings", "code"])
def test_state_written_for_other_settings_or_code_is_discarded(digits_file, tmp_path, monkeypatch, stale):
    spec = make_spec((("sgd", 3),))
    if stale == "settings":
        _interrupted_state(make_spec((("sgd", 3),), lr_schedule={"name": "constant", "lr": 0.2}), digits_file, tmp_path / "run" / "state", 2)
    else:
        _interrupted_state(spec, digits_file, tmp_path / "run" / "state", 2)
        monkeypatch.setattr(ckpt, "code_digest", lambda: "edited training code")
    messages = []
    train_job(spec, digits_file, tmp_path / "run" / "state", tmp_path / "run" / "final.pt", tmp_path / "run" / "run.nc", log=messages.append)
    assert any("discarding resumable state" in m for m in messages)
    reference = _train(spec, digits_file, tmp_path, "reference")
    _assert_same_weights(_weights(tmp_path / "run" / "final.pt"), _weights(reference / "final.pt"))
    assert not (tmp_path / "run" / "state").exists()  # a finished job leaves no resumable state


def test_checkpoint_from_a_different_prefix_is_refused(digits_file, tmp_path):
    _train(make_spec((("sgd", 2),)), digits_file, tmp_path, "sgd", keep={1: str(tmp_path / "e1.pt")})
    other_seed = make_spec((("sgd", 1), ("sam", 2)), seed=1)
    with pytest.raises(ValueError, match="trajectory up to that epoch differs"):
        _train(other_seed, digits_file, tmp_path, "branch", start_from=str(tmp_path / "e1.pt"))


def test_minibatches_depend_on_seed_and_epoch_only(digits_file, monkeypatch):
    """The batches of an epoch are the same whichever optimizer runs it, and after a restart."""
    import sharpness.train.loop as loop

    data = load_prepared(digits_file)
    seen = []
    real_step = loop._train_step
    monkeypatch.setattr(loop, "_train_step", lambda model, opt, fn, x, y, *rest: (seen.append(x.clone()), real_step(model, opt, fn, x, y, *rest))[1])

    def batches(opt, epoch):
        seen.clear()
        trainer = Trainer(make_spec(((opt, 3),), augmentation={"flip": True, "crop_padding": 1}), data, log=lambda m: None)
        trainer.optimizer = trainer._optimizer_for_epoch(epoch)
        trainer.train_epoch(epoch)
        return torch.cat(seen)

    sgd_2 = batches("sgd", 2)
    assert torch.equal(sgd_2, batches("sam", 2))
    assert torch.equal(sgd_2, batches("sgd", 2))
    assert not torch.equal(sgd_2, batches("sgd", 3))
    assert epoch_seed(0, 1) != epoch_seed(0, 2) and epoch_seed(0, 1) != epoch_seed(1, 1)


def test_diverged_run_is_recorded_and_the_job_succeeds(digits_file, tmp_path):
    spec = make_spec((("sgd", 5),), lr_schedule={"name": "constant", "lr": 1e4})
    out = _train(spec, digits_file, tmp_path, "diverged", keep={4: str(tmp_path / "e4.pt")})
    run = read(out / "run.nc")
    assert run.attrs["diverged"] == 1 and 1 <= run.attrs["diverged_epoch"] <= 4
    e = run.attrs["diverged_epoch"]
    assert e <= 4 and np.isnan(run.test_loss.values[e:]).all()  # epochs after divergence are NaN
    # The switch checkpoint after the divergence hands the divergence on to a branch job.
    branch = make_spec((("sgd", 4), ("sam", 5)), lr_schedule={"name": "constant", "lr": 1e4})
    out = _train(branch, digits_file, tmp_path, "branch", start_from=str(tmp_path / "e4.pt"))
    assert read(out / "run.nc").attrs["diverged"] == 1


def test_checkpoints_load_with_weights_only(digits_file, tmp_path):
    out = _train(make_spec((("sgd", 1),)), digits_file, tmp_path, "run")
    state = torch.load(out / "final.pt", weights_only=True)
    assert state["epoch"] == 1 and "model" in state
