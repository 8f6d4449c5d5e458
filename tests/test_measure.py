"""Measurements of saved models: the gradient-noise alignment γ against an exact computation."""

import torch
from torch import nn

from sharpness.measure import gradient_noise_alignment
from sharpness.spectrum import HessianOperator


def test_gamma_matches_dense_covariance_and_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(12, 3, dtype=torch.float64), torch.randint(0, 2, (12,))
    loss_fn = nn.functional.cross_entropy
    params = list(model.parameters())
    op = HessianOperator(model, loss_fn, [(x, y)])

    # Dense references: H of the mean loss, per-sample gradients, their covariance.
    def flat_loss(theta):
        chunks, i = [], 0
        for p in params:
            chunks.append(theta[i : i + p.numel()].view_as(p))
            i += p.numel()
        return loss_fn(torch.func.functional_call(model, dict(zip([n for n, _ in model.named_parameters()], chunks)), (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    H = torch.autograd.functional.hessian(flat_loss, theta)
    grads = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)]) for i in range(12)])
    sigma = torch.cov(grads.T, correction=0)
    frob_sq = float((H**2).sum())
    expected = float(torch.trace(sigma @ H)) / (2 * float(flat_loss(theta)) * frob_sq)

    result = gradient_noise_alignment(model, loss_fn, (x, y), op, frob_sq)
    assert abs(result["trace_sigma_h"] - float(torch.trace(sigma @ H))) < 1e-10
    assert abs(result["gamma"] - expected) < 1e-10 * abs(expected)
