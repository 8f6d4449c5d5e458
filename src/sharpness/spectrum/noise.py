"""Gradient-noise alignment γ of late-sam's Assumption 4.1, from per-sample gradients and an operator."""

from __future__ import annotations

import torch

from sharpness.spectrum.linear_operator import SymmetricOperator


def gradient_noise_alignment(model, loss_fn, samples, operator: SymmetricOperator, frobenius_sq: float) -> dict:
    """late-sam Assumption 4.1: γ = Tr(ΣG) / (2 L ‖G‖²_F), with Σ the covariance of per-sample
    gradients over ``samples`` and G taken as the Hessian ``operator`` (equal at a global
    minimum of a squared loss); L is the operator's mean loss. Per-sample gradients are taken
    in eval mode (a single sample has no batch statistics).

    Returns ``trace_sigma_h`` = Tr(ΣG), ``loss`` = L and ``gamma`` (NaN when L or ‖G‖²_F is 0).
    """
    was_training = model.training
    model.eval()
    x, y = samples
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for i in range(len(x)):
        g = torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)
        grads.append(torch.cat([t.reshape(-1) for t in g]))
    model.train(was_training)
    grads = torch.stack(grads)  # (m, dim)
    centred = grads - grads.mean(0)
    trace_sigma_h = float(sum(torch.dot(c, operator.matvec(c)) for c in centred)) / len(centred)
    loss = float(operator.loss())
    gamma = trace_sigma_h / (2 * loss * frobenius_sq) if loss > 0 and frobenius_sq > 0 else float("nan")
    return {"trace_sigma_h": trace_sigma_h, "loss": loss, "gamma": gamma}
