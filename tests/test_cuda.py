"""The CUDA path against the CPU path (skipped without a GPU; `benchmarks/gpu_check.sh` runs
them with `pytest -m cuda`): SAM's step, the Hessian operator with each HVP method, and a
channels_last + bf16 training run."""

from __future__ import annotations

import copy

import pytest
import torch
from test_spectrum_cases import make_case, reference_hessian

from sharpness.optim import SAM
from sharpness.spectrum import HessianOperator

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_sam_steps_on_cuda_equal_the_cpu_in_float64():
    torch.manual_seed(0)
    cpu = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    gpu = copy.deepcopy(cpu).cuda()
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randint(0, 3, (32,))
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
        xb, yb = x.to(device), y.to(device)
        for _ in range(5):
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.first_step(zero_grad=True)
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.second_step(zero_grad=True)
    for a, b in zip(cpu.parameters(), gpu.parameters()):
        assert torch.allclose(a, b.cpu(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse", "forward_over_reverse+compile", "finite_difference"])
def test_hvp_on_cuda_matches_the_dense_cpu_hessian(method):
    case = make_case("mlp_tanh_mse")
    name, _, compiled = method.partition("+")
    operator = HessianOperator(case.model, case.loss_fn, case.batches, method=name, compile=bool(compiled), device="cuda")
    v = torch.randn(operator.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    hv = operator.matvec(v.cuda()).cpu()
    expected = reference_hessian("mlp_tanh_mse") @ v
    assert float((hv - expected).norm() / expected.norm()) < (3e-7 if method == "finite_difference" else 1e-10)


def test_a_channels_last_bf16_run_trains_on_cuda():
    from sharpness.data import load_dataset
    from sharpness.optim import Phase, make_optimizer
    from sharpness.runspec import RunSpec
    from sharpness.train import Trainer

    data = load_dataset("synthetic_cifar10", n_train=512, n_test=128)
    settings = {"momentum": 0.9, "rho": 0.05}
    run = RunSpec(seed=0, epochs=2, model={"name": "resnet20"}, loss="cross_entropy", batch_size=128,
                  lr_schedule={"name": "constant", "lr": 0.05}, phases=(Phase("sam", 2, settings),), device="cuda",
                  fast_path={"channels_last": True, "autocast": "bfloat16", "compile": False})
    trainer = Trainer(run, data, log=lambda message: None)
    trainer.optimizer = make_optimizer(run.phases[0], trainer.model, 0.05)
    losses = [trainer.train_epoch(epoch) for epoch in (1, 2)]
    assert all(torch.isfinite(torch.as_tensor(losses, dtype=torch.float64).flatten()))


def test_a_reduce_overhead_run_trains_like_the_eager_one_on_cuda():
    # compile: reduce-overhead replays SAM's passes as CUDA graphs; the BatchNorm statistics are
    # restored around the perturbed pass outside the graphs. In float32 with TF32 the two
    # trajectories agree to rounding over one short epoch.
    from sharpness.data import DatasetTensors
    from sharpness.optim import Phase, make_optimizer
    from sharpness.runspec import RunSpec
    from sharpness.train import Trainer

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (37, 3, 8, 8), dtype=torch.uint8, generator=gen), torch.randint(0, 10, (37,), generator=gen)
    data = DatasetTensors(x, y, x[:8], y[:8], num_classes=10, mean=(0.5,) * 3, std=(0.25,) * 3, name="synthetic")
    losses = {}
    for option in (False, "reduce-overhead"):
        run = RunSpec(seed=0, epochs=2, model={"name": "wrn", "depth": 10, "widen_factor": 1}, loss="cross_entropy",
                      batch_size=16, lr_schedule={"name": "constant", "lr": 0.05}, phases=(Phase("sam", 2, {"rho": 0.05, "momentum": 0.9}),),
                      device="cuda", fast_path={"compile": option})
        trainer = Trainer(run, data, log=lambda message: None)
        trainer.optimizer = make_optimizer(run.phases[0], trainer.model, 0.05)
        losses[option] = [trainer.train_epoch(epoch) for epoch in (1, 2)]
        bn = next(m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        assert int(bn.num_batches_tracked) == 2 * 3, "one statistics update per SAM step"
    assert losses["reduce-overhead"][0] == pytest.approx(losses[False][0], rel=1e-2)
