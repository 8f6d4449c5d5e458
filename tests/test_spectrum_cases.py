"""Verification cases for the spectrum engine, declared once, and checks of their references.

Each case is a small float64 model with a loss and unequal batches (7, 13 and 5 samples). The
reference is the dense Hessian of the mean loss over all 25 samples, computed with
``torch.func.hessian`` (``torch.autograd.functional.hessian`` for train-mode BatchNorm) on a
flat parameter vector. In eval mode that loss is evaluated on the 25 samples concatenated as one
batch, so it does not share the operator's per-batch weighting; in train-BatchNorm mode batch
statistics are per batch by definition, so the reference weights each batch's mean by its size.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import nn

BATCH_SIZES = (7, 13, 5)
N_SAMPLES = sum(BATCH_SIZES)


@dataclass
class Case:
    name: str
    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batches: list[tuple[torch.Tensor, torch.Tensor]]
    bn_mode: str = "eval"


class LinearScore(nn.Module):
    """x ↦ x·θ; with the cosine loss below its Hessian is −mean cos(r_i) x_i x_iᵀ."""

    def __init__(self, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.theta = nn.Parameter(0.3 * torch.randn(dim, generator=generator, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.theta


def cosine_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.cos(output - target).mean()


def _split(inputs: torch.Tensor, targets: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(zip(inputs.split(BATCH_SIZES), targets.split(BATCH_SIZES)))


def _mlp(activation: nn.Module, n_in: int, n_hidden: int, n_out: int, gen: torch.Generator):
    model = nn.Sequential(nn.Linear(n_in, n_hidden), activation, nn.Linear(n_hidden, n_out))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.6 * torch.randn(p.shape, generator=gen))
    return model.double()


def _cnn_bn(gen: torch.Generator) -> nn.Module:
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),  # (3, 3, 3)
        nn.Flatten(), nn.Linear(27, 3),
    ).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen) + (1.0 if p.ndim == 1 else 0.0))
        # Non-trivial running statistics, as after training.
        model[1].running_mean.copy_(0.3 * torch.randn(3, generator=gen))
        model[1].running_var.copy_(0.5 + torch.rand(3, generator=gen, dtype=torch.float64))
    return model


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run on one intra-op thread: these models are tiny, and when the 2 cores are shared with
    other processes, OpenMP's barrier waits make each op cost milliseconds with 2 threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_case(name: str) -> Case:
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    if name == "mlp_tanh_mse":
        x = torch.randn(N_SAMPLES, 4, generator=gen, dtype=torch.float64)
        y = torch.randn(N_SAMPLES, 2, generator=gen, dtype=torch.float64)
        return Case(name, _mlp(nn.Tanh(), 4, 6, 2, gen), nn.functional.mse_loss, _split(x, y))
    if name == "mlp_relu_ce":
        x = torch.randn(N_SAMPLES, 5, generator=gen, dtype=torch.float64)
        y = torch.randint(0, 3, (N_SAMPLES,), generator=gen)
        return Case(name, _mlp(nn.ReLU(), 5, 8, 3, gen), nn.functional.cross_entropy, _split(x, y))
    if name in ("cnn_bn_eval", "cnn_bn_train"):
        x = torch.rand(N_SAMPLES, 1, 6, 6, generator=gen, dtype=torch.float64)
        y = torch.randint(0, 3, (N_SAMPLES,), generator=gen)
        bn_mode = name.removeprefix("cnn_bn_")
        return Case(name, _cnn_bn(gen), nn.functional.cross_entropy, _split(x, y), bn_mode)
    if name == "saddle_cosine":
        # Residuals near π for two samples (curvature −cos ≈ +1), near 0 for the rest, whose
        # inputs are twice as long (curvature ≈ −4): only two positive eigenvalues, and the
        # most negative one outweighs the largest positive one.
        model = LinearScore(20, gen)
        flipped = torch.arange(N_SAMPLES) % 13 == 0
        x = torch.randn(N_SAMPLES, 20, generator=gen, dtype=torch.float64) / 20**0.5
        x = torch.where(flipped[:, None], x, 2 * x)
        with torch.no_grad():
            offset = torch.where(flipped, torch.pi, 0.2).double()
            y = model(x) - offset + 0.1 * torch.randn(N_SAMPLES, generator=gen,
                                                      dtype=torch.float64)
        return Case(name, model, cosine_loss, _split(x, y))
    raise KeyError(name)


MODEL_CASES = ("mlp_tanh_mse", "mlp_relu_ce", "cnn_bn_eval", "cnn_bn_train", "saddle_cosine")


def flat_parameters(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def mean_loss_of_flat(case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    """θ ↦ mean loss over all samples, with the model's parameters replaced by θ (flat)."""
    model = copy.deepcopy(case.model)
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.train(case.bn_mode == "train")

    def loss(theta: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, [c.view(s) for c, s in zip(theta.split(
            [s.numel() for s in shapes]), shapes)]))
        state = {**params, **{k: b.clone() for k, b in buffers.items()}}
        if case.bn_mode == "eval":
            inputs = torch.cat([x for x, _ in case.batches])
            targets = torch.cat([y for _, y in case.batches])
            return case.loss_fn(torch.func.functional_call(model, state, (inputs,)), targets)
        total = sum(x.shape[0] * case.loss_fn(torch.func.functional_call(model, state, (x,)), y)
                    for x, y in case.batches)
        return total / N_SAMPLES

    return loss


def dense_hessian(case: Case) -> torch.Tensor:
    """(dim, dim) float64 reference Hessian of the mean loss over all samples."""
    loss, theta = mean_loss_of_flat(case), flat_parameters(case.model)
    if case.bn_mode == "eval":
        hessian = torch.func.hessian(loss)(theta)  # vmapped: one call for all columns
    else:
        # Train-mode BatchNorm under vmap gives wrong columns (torch 2.14); one backward per
        # column instead.
        hessian = torch.autograd.functional.hessian(loss, theta)
    return (hessian + hessian.T) / 2


@functools.lru_cache(maxsize=None)
def reference_eigenvalues(name: str) -> torch.Tensor:
    """Ascending eigenvalues of a model case's dense Hessian (cached: cases are deterministic)."""
    return torch.linalg.eigvalsh(reference_hessian(name))


@functools.lru_cache(maxsize=None)
def reference_hessian(name: str) -> torch.Tensor:
    return dense_hessian(make_case(name))


def dense_gradient(case: Case) -> torch.Tensor:
    theta = flat_parameters(case.model).requires_grad_(True)
    return torch.autograd.grad(mean_loss_of_flat(case)(theta), theta)[0]


def spectrum_matrix(eigenvalues: list[float], dim: int, seed: int) -> torch.Tensor:
    """A dense symmetric matrix with the given leading eigenvalues and a bulk in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    bulk = 2 * torch.rand(dim - len(eigenvalues), generator=gen, dtype=torch.float64) - 1
    spectrum = torch.cat([torch.tensor(eigenvalues, dtype=torch.float64), bulk])
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    matrix = basis @ torch.diag(spectrum) @ basis.T
    return (matrix + matrix.T) / 2


# ----------------------------------------------------------------------------- reference checks


@pytest.mark.parametrize("name", MODEL_CASES)
def test_dense_reference_matches_finite_differences_of_the_gradient(name):
    case = make_case(name)
    hessian = dense_hessian(case)
    theta = flat_parameters(case.model)
    loss = mean_loss_of_flat(case)
    direction = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(1),
                            dtype=torch.float64)
    step = 1e-5

    def grad_at(t: torch.Tensor) -> torch.Tensor:
        t = t.clone().requires_grad_(True)
        return torch.autograd.grad(loss(t), t)[0]

    central = (grad_at(theta + step * direction) - grad_at(theta - step * direction)) / (2 * step)
    assert torch.allclose(hessian @ direction, central, rtol=1e-6, atol=1e-7)


def test_saddle_case_is_dominated_by_negative_curvature():
    eigenvalues = reference_eigenvalues("saddle_cosine")
    assert eigenvalues[-1] > 0
    assert -eigenvalues[0] > 2 * eigenvalues[-1]


def test_cases_have_unequal_batches_and_batchnorm_statistics():
    case = make_case("cnn_bn_eval")
    assert [x.shape[0] for x, _ in case.batches] == list(BATCH_SIZES)
    assert case.model[1].running_mean.abs().sum() > 0
