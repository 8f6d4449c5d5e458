"""Fine-tuning (ES-T2): runs start from another run's final model with a fresh head, and a
resumable state is valid only for the pretrained file it started from."""

from dataclasses import replace

import pytest
import torch

from sharpness.data import load_prepared
from sharpness.models import build_model
from sharpness.train import Trainer, train_job
from sharpness.train import checkpoint as ckpt
from sharpness.train.loop import load_pretrained

from conftest import make_spec

VIT = {"name": "vit", "patch_size": 2, "width": 8, "depth": 1, "heads": 2}


def _pretrained(digits_file, tmp_path, seed=5):
    spec = make_spec((("sgd", 1),), model=VIT, seed=seed)
    out = tmp_path / f"pre{seed}"
    train_job(spec, digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None)
    return out / "final.pt"


def test_fine_tuned_run_starts_from_the_pretrained_model_with_a_fresh_head(digits_file, tmp_path):
    path = _pretrained(digits_file, tmp_path)
    source = ckpt.load(path)["model"]
    spec = make_spec((("sgd", 1),), model=VIT, init_from={"path": str(path), "fresh": ["head"]})
    trainer = Trainer(spec, load_prepared(digits_file), log=lambda m: None)
    start = trainer.model.state_dict()
    scratch = Trainer(replace(spec, init_from=None), load_prepared(digits_file), log=lambda m: None).model.state_dict()
    for name, value in start.items():
        if name.startswith("head"):
            assert torch.equal(value, scratch[name]), "the head keeps its seeded initialisation"
        else:
            assert torch.equal(value, source[name]), name


def test_a_model_that_does_not_fit_is_refused_naming_the_tensors(digits_file, tmp_path):
    path = _pretrained(digits_file, tmp_path)
    model = build_model({**VIT, "width": 16}, (1, 8, 8), 10)
    with pytest.raises(ValueError, match="does not fit"):
        load_pretrained(model, str(path), fresh=["head"])


def test_state_from_another_pretrained_file_is_discarded(digits_file, tmp_path):
    path = _pretrained(digits_file, tmp_path)
    spec = make_spec((("sgd", 2),), model=VIT, init_from={"path": str(path), "fresh": ["head"]})
    trainer = Trainer(replace(spec, epochs=1, phases=(replace(spec.phases[0], until_epoch=1),)), load_prepared(digits_file), log=lambda m: None)
    trainer.run(tmp_path / "ft" / "state")
    state = ckpt.load(ckpt.latest_state(tmp_path / "ft" / "state"))
    assert Trainer(spec, load_prepared(digits_file), log=lambda m: None).accepts(state)
    other = _pretrained(digits_file, tmp_path, seed=6)
    path.write_bytes(other.read_bytes())  # the pretraining was redone differently
    assert not Trainer(spec, load_prepared(digits_file), log=lambda m: None).accepts(state)
