"""What a dynamics run measures at a step: the Hessian's top eigenpairs, alignments, theory edges.

All quantities refer to the parameters θ_s after step s, on the run's fixed measurement subset,
and to the optimizer that made step s (the first optimizer at step 0), so a switched run and
its prefix record the same history up to the switch:

- ``eigenvalues`` — top-k Hessian eigenvalues (thick-restart Lanczos, warm-started from the
  previous measurement's eigenvectors), with residuals and converged flags;
- ``grad_norm`` — ‖g‖ of the full gradient g = ∇L(θ_s) on the subset;
- ``grad_alignment`` — |cos(g, v₁)| with the top eigenvector v₁ (sam-eos Figs. 5–6);
- ``sam_grad_alignment`` — |cos(∇L(θ_s + ε), v₁)|, the gradient at the SAM point, where ε is the
  optimizer's own perturbation, made by the training step's code (ρg/‖g‖ for SAM, ρg for USAM,
  ρT²g/‖Tg‖ for ASAM with T = |θ| + η on the weights and T = 1 on the biases);
- ``perturbation_alignment`` — eigen-sam's Align(ε, v₁) = 1 − min_s ‖ε/‖ε‖ − s·v₁‖;
- ``gd_edge`` — 2/η; ``sam_edge`` — the optimizer's own edge: 2/η for GD/SGD, far-from-home's
  SAM-EOS (√(1 + 8ρ/η) − 1)/(2ρ) for USAM, sam-eos's SAM-edge with the current ‖g‖ for SAM;
  ASAM has no published edge (NaN);
- ``ntk_eigenvalues`` — optional top-k of the NTK at the Gauss–Newton scale of the mse loss.

The SAM-point quantities are NaN for GD/SGD (there is no SAM point).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import theory
from ..optim.sam import SAM, asam_parameter_groups
from ..optim.schedule import ASAM_ETA, SAM_VARIANTS
from ..spectrum import HessianOperator, NTKOperator, align_eigen_sam, alignment, top_eigenpairs
from ..spectrum.operator import hvp_arguments

SAM_LIKE = ("sam", "usam", "asam")
SCALARS = ("grad_norm", "grad_alignment", "sam_grad_alignment", "perturbation_alignment", "gd_edge", "sam_edge", "n_hvp")


def perturbation(optimizer: str, rho: float, grads: dict[str, torch.Tensor], params: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The optimizer's ascent step ε at θ = ``params`` with gradient ``grads`` (by parameter name),
    flat in that order; None for GD/SGD. It is the training step's own ``SAM.first_step`` on a
    copy of θ, with the parameter groups training builds (ASAM: ``asam_parameter_groups``; dynamics
    studies set no ASAM η, so training uses ``ASAM_ETA`` as well), so the two cannot disagree."""
    if optimizer not in SAM_LIKE:
        return None
    copies = {name: p.detach().clone() for name, p in params.items()}
    for name, p in copies.items():
        p.grad = grads[name].detach()
    groups = asam_parameter_groups(copies.items(), ASAM_ETA) if optimizer == "asam" else [dict(params=list(copies.values()))]
    step = SAM(groups, torch.optim.SGD, rho=rho, lr=0.0, **SAM_VARIANTS[optimizer])
    step.first_step()
    return torch.cat([step.state[p]["e_w"].reshape(-1) for p in copies.values()])


def own_edge(optimizer: str, lr: float, rho: float, grad_norm: float) -> float:
    """The sharpness at which the optimizer's step is marginally stable (module docstring)."""
    if optimizer == "usam":
        return float(theory.sam_eos_unnormalized(lr, rho))
    if optimizer == "sam":
        return float(theory.sam_edge_normalized(lr, rho, grad_norm))
    if optimizer == "asam":
        return math.nan
    return float(theory.gd_edge(lr))


def measure(model, loss_fn, batches, settings: dict, optimizer: str, rho: float, lr: float, warm: dict) -> dict:
    """Every tracked quantity at the model's current parameters. ``warm`` holds the previous
    measurement's eigenvectors ("hessian", "ntk") and is updated in place."""
    op = HessianOperator(model, loss_fn, batches, bn_mode=settings["bn_mode"], **hvp_arguments(settings))
    top = top_eigenpairs(op, settings["k"], seed=settings["seed"], tol=settings["tol"], max_hvp=settings["max_hvp"],
                         init_vectors=warm.get("hessian"), return_eigenvectors=True)
    warm["hessian"] = top.eigenvectors
    g = op.gradient()
    v1 = top.eigenvectors[0]
    grad_norm = float(torch.linalg.vector_norm(g))
    out = dict(
        eigenvalues=top.eigenvalues.numpy(), residuals=top.residuals.numpy(), converged=top.converged.numpy().astype(np.int8),
        grad_norm=grad_norm, grad_alignment=alignment(g, v1) if grad_norm > 0 else math.nan,
        sam_grad_alignment=math.nan, perturbation_alignment=math.nan,
        gd_edge=float(theory.gd_edge(lr)), sam_edge=own_edge(optimizer, lr, rho, grad_norm),
    )
    eps = perturbation(optimizer, rho, op.unflatten(g), op.unflatten(op.parameters_vector())) if grad_norm > 0 and rho > 0 else None
    if eps is not None:
        out["sam_grad_alignment"] = alignment(op.gradient_at(eps), v1)
        out["perturbation_alignment"] = align_eigen_sam(eps, v1)
    out["n_hvp"] = op.n_hvp
    if settings["ntk_k"]:
        ntk = top_eigenpairs(NTKOperator(model, batches, scale="mse"), settings["ntk_k"], seed=settings["seed"], tol=settings["tol"],
                             max_hvp=settings["max_hvp"], init_vectors=warm.get("ntk"), return_eigenvectors=True)
        warm["ntk"] = ntk.eigenvectors
        out["ntk_eigenvalues"] = ntk.eigenvalues.numpy()
    return out
