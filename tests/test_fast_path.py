"""The fast path's options on CPU: in float64 a channels_last SAM run is the plain run (to
rounding: other convolution kernels), bfloat16 autocast trains and says so, and the options
are part of what a run is (its prefix key) and of what it records."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import make_spec, tiny_study
from sharpness.config import ConfigError, Study, validate_config
from sharpness.models import build_model
from sharpness.optim import Phase, make_optimizer
from sharpness.store import read
from sharpness.train import train_job
from sharpness.data.prepared import load_prepared
from sharpness.train.loop import Trainer, _train_step
from sharpness.train.losses import make_loss

CNN = {"name": "resnet20"}


def test_channels_last_sam_step_equals_the_plain_step_in_float64(one_torch_thread):
    torch.manual_seed(0)
    plain = build_model(CNN, (3, 16, 16), 10).double()
    fast = build_model(CNN, (3, 16, 16), 10).double()
    fast.load_state_dict(plain.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    x, y = torch.randn(8, 3, 16, 16, dtype=torch.float64), torch.randint(0, 10, (8,))
    loss_fn = make_loss("cross_entropy", 10)
    settings = {"rho": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
    opts = [make_optimizer(Phase("sam", 1, settings), m, lr=0.1) for m in (plain, fast)]
    for _ in range(3):
        a = _train_step(plain, opts[0], loss_fn, x, y)
        b = _train_step(fast, opts[1], loss_fn, x.contiguous(memory_format=torch.channels_last), y)
        assert float(a[0]) == pytest.approx(float(b[0]), rel=1e-12) and float(a[1]) == pytest.approx(float(b[1]), rel=1e-12)
    for (name, p), q in zip(plain.state_dict().items(), fast.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-13, msg=name)


def test_fast_path_run_records_its_options_and_matches_the_plain_run(digits_file, tmp_path, one_torch_thread):
    cnn = {"name": "cnn", "channels": [4, 8]}
    base = dict(model=cnn, dtype="float64")
    runs = {}
    for name, fast in (("plain", None), ("fast", {"channels_last": True})):
        out = tmp_path / name
        train_job(make_spec((("sam", 2),), **base, fast_path=fast), digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None)
        runs[name] = read(out / "run.nc")
    torch.testing.assert_close(torch.tensor(runs["fast"].train_loss.values), torch.tensor(runs["plain"].train_loss.values), rtol=1e-10, atol=0)
    assert json.loads(runs["fast"].attrs["fast_path"])["channels_last"] is True
    # The option was applied, not only recorded: the trainer's convolutions are channels_last.
    trainer = Trainer(make_spec((("sam", 2),), **base, fast_path={"channels_last": True}), load_prepared(digits_file), log=lambda m: None)
    conv = next(m.weight for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert json.loads(runs["plain"].attrs["fast_path"]) == {"autocast": "none", "channels_last": False, "compile": False}


def test_bfloat16_autocast_trains_on_cpu(digits_file, tmp_path, one_torch_thread):
    runs = {}
    for name, fast in (("plain", None), ("bf16", {"autocast": "bfloat16"})):
        out = tmp_path / name
        spec = make_spec((("sam", 1),), model={"name": "cnn", "channels": [4, 8]}, fast_path=fast)
        train_job(spec, digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None)
        runs[name] = read(out / "run.nc")
    run = runs["bf16"]
    assert torch.isfinite(torch.tensor(run.train_loss.values)).all() and run.attrs["diverged"] == 0
    assert json.loads(run.attrs["fast_path"])["autocast"] == "bfloat16"
    # The forward passes really ran in bfloat16: the trajectory differs from the float32 one.
    assert not (run.train_loss.values == runs["plain"].train_loss.values).all()


def test_fast_path_options_are_part_of_the_run():
    plain, fast = make_spec(), make_spec(fast_path={"channels_last": True})
    assert plain.prefix_key(2) != fast.prefix_key(2), "a fast-path checkpoint never seeds a plain run"
    assert "fast_path" not in plain.to_dict(), "runs without it keep their specs (and jobs) as before"
    # Spelling out the defaults is the plain path.
    cfg = validate_config({"studies": {"s": {**tiny_study(), "fast_path": {"channels_last": False}}}})
    assert Study("s", cfg["studies"]["s"]).run_spec(0, "sgd").fast_path is None


def test_compile_with_eigen_sam_is_rejected_before_any_job():
    from sharpness.config import ConfigError

    study = {**tiny_study(directions=["sgd->eigen_sam"]), "fast_path": {"compile": True}}
    study["optimizers"]["eigen_sam"] = {"rho": 0.05}
    with pytest.raises(ConfigError, match="fast_path.compile"):
        validate_config({"studies": {"s": study}})


def _compiled_trainer(compile_option, n_train: int, batch: int) -> Trainer:
    from sharpness.data import DatasetTensors

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (n_train, 3, 8, 8), dtype=torch.uint8, generator=gen), torch.randint(0, 10, (n_train,), generator=gen)
    data = DatasetTensors(x, y, x[:8], y[:8], num_classes=10, mean=(0.5,) * 3, std=(0.25,) * 3, name="synthetic")
    settings = {"rho": 0.05, "momentum": 0.9}
    spec = make_spec((("sam", 2),), model={"name": "wrn", "depth": 10, "widen_factor": 1}, batch_size=batch,
                     dataset={}, fast_path={"compile": compile_option})
    trainer = Trainer(spec, data, log=lambda m: None)
    trainer.optimizer = make_optimizer(Phase("sam", 2, settings), trainer.model, 0.05)
    return trainer


def test_compiled_sam_traces_one_graph_per_batch_size_and_never_recompiles(one_torch_thread):
    # Why compile can lose to eager is decided on the device, but what dynamo does is not: SAM's
    # two passes (the perturbed one with BatchNorm statistics frozen) must share one graph, the
    # epoch's smaller last batch gets one static graph of its own, nothing breaks the graph, and
    # the second epoch compiles nothing.
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    trainer = _compiled_trainer(True, n_train=2 * 16 + 5, batch=16)
    trainer.train_epoch(1)
    assert dict(counters["graph_break"]) == {}
    assert counters["stats"]["unique_graphs"] == 2, dict(counters["stats"])
    trainer.train_epoch(2)
    assert counters["stats"]["unique_graphs"] == 2, "the second epoch recompiled"


def test_reduce_overhead_compiles_a_run_that_trains_like_the_eager_one(one_torch_thread):
    # On a CPU inductor skips the CUDA graphs and runs its compiled kernels; the trajectory
    # must still be the eager one to float32 rounding.
    compiled, eager = _compiled_trainer("reduce-overhead", 32, 16), _compiled_trainer(False, 32, 16)
    assert compiled.train_model is not compiled.model and eager.train_model is eager.model
    a, b = compiled.train_epoch(1), eager.train_epoch(1)
    assert a == pytest.approx(b, rel=1e-4)
    validate_config({"studies": {"s": {**tiny_study(), "fast_path": {"compile": "reduce-overhead"}}}})
    with pytest.raises(ConfigError, match="fast_path"):
        validate_config({"studies": {"s": {**tiny_study(), "fast_path": {"compile": "max-autotune"}}}})
