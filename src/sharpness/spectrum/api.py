"""Public entry points: Hessian spectrum quantities of ``(model, loss_fn, batches)``, and the
top NTK eigenvalues of ``(model, batches)`` (:func:`ntk_eigenvalues`).

Each function also accepts a ready operator in place of the model (leave ``loss_fn`` and
``batches`` out), e.g. one :class:`HessianOperator` shared by several calls so that its retained
gradient graph is built once, or a :class:`MatrixOperator`. ``method`` is always the HVP method
of the operator (see :class:`HessianOperator`); the trace estimators take ``estimator``.
Every result carries ``settings``: the operator's ``describe()`` plus the algorithm's inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sharpness.spectrum.density import SpectralDensity, slq_density
from sharpness.spectrum.lanczos import LanczosResult, top_eigenpairs
from sharpness.spectrum.linear_operator import SymmetricOperator
from sharpness.spectrum.ntk import NTKOperator, Scale
from sharpness.spectrum.operator import Batch, BnMode, HessianOperator, HvpMethod, LossFn
from sharpness.spectrum.power import PowerIterationResult, dominant_eigenpair
from sharpness.spectrum.trace import (
    TraceEstimate,
    TraceMethod,
    estimate_frobenius_sq,
    estimate_trace,
)

ModelOrOperator = nn.Module | SymmetricOperator


def hessian_eigenvalues(
    model: ModelOrOperator,
    loss_fn: LossFn | None = None,
    batches: Sequence[Batch] | None = None,
    k: int = 1,
    seed: int = 0,
    *,
    tol: float | None = None,
    max_hvp: int = 1000,
    krylov_dim: int | None = None,
    bn_mode: BnMode = "eval",
    method: HvpMethod = "auto",
    return_eigenvectors: bool = False,
    init_vectors: torch.Tensor | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> LanczosResult:
    """The k largest ALGEBRAIC Hessian eigenvalues (descending) by thick-restart Lanczos.

    ``tol`` bounds the relative Ritz residual (default sqrt(eps) of the dtype; see
    :func:`~sharpness.spectrum.lanczos.top_eigenpairs`); ``init_vectors`` (r, dim) warm-start
    from e.g. the previous checkpoint's eigenvectors.
    """
    operator = _operator(model, loss_fn, batches, bn_mode, method, dtype, device)
    return top_eigenpairs(
        operator, k, seed=seed, tol=tol, max_hvp=max_hvp, krylov_dim=krylov_dim,
        init_vectors=init_vectors, return_eigenvectors=return_eigenvectors,
    )


def hessian_trace(
    model: ModelOrOperator,
    loss_fn: LossFn | None = None,
    batches: Sequence[Batch] | None = None,
    n_hvp: int = 100,
    seed: int = 0,
    *,
    estimator: TraceMethod = "hutchinson",
    bn_mode: BnMode = "eval",
    method: HvpMethod = "auto",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> TraceEstimate:
    """tr(H) by Hutchinson or Hutch++ from ``n_hvp`` HVPs, with its standard error."""
    operator = _operator(model, loss_fn, batches, bn_mode, method, dtype, device)
    return estimate_trace(operator, n_hvp=n_hvp, method=estimator, seed=seed)


def hessian_frobenius_sq(
    model: ModelOrOperator,
    loss_fn: LossFn | None = None,
    batches: Sequence[Batch] | None = None,
    n_hvp: int = 100,
    seed: int = 0,
    *,
    estimator: TraceMethod = "hutchinson",
    bn_mode: BnMode = "eval",
    method: HvpMethod = "auto",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> TraceEstimate:
    """‖H‖²_F = tr(H²) = Σ λ² by Hutchinson (‖H z‖²) or Hutch++ from ``n_hvp`` HVPs."""
    operator = _operator(model, loss_fn, batches, bn_mode, method, dtype, device)
    return estimate_frobenius_sq(operator, n_hvp=n_hvp, method=estimator, seed=seed)


def spectral_density(
    model: ModelOrOperator,
    loss_fn: LossFn | None = None,
    batches: Sequence[Batch] | None = None,
    grid: torch.Tensor | np.ndarray | Sequence[float] | None = None,
    bandwidth: float | None = None,
    n_probes: int = 10,
    lanczos_steps: int = 80,
    seed: int = 0,
    *,
    bn_mode: BnMode = "eval",
    method: HvpMethod = "auto",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> SpectralDensity:
    """SLQ spectral density on the caller's ``grid`` with Gaussian ``bandwidth`` (both required)."""
    if grid is None or bandwidth is None:
        # No defaults on purpose: densities are compared point by point across checkpoints.
        raise ValueError("grid and bandwidth are required")
    operator = _operator(model, loss_fn, batches, bn_mode, method, dtype, device)
    return slq_density(
        operator, grid, bandwidth, n_probes=n_probes, lanczos_steps=lanczos_steps, seed=seed
    )


def power_iteration(
    model: ModelOrOperator,
    loss_fn: LossFn | None = None,
    batches: Sequence[Batch] | None = None,
    *,
    n_iter: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
    init_vector: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    store_vectors: bool = False,
    bn_mode: BnMode = "eval",
    method: HvpMethod = "auto",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> PowerIterationResult:
    """Baseline power iteration: the LARGEST-MAGNITUDE eigenvalue, with per-HVP history.

    With ``reference`` (e.g. Lanczos' top eigenvector) the history includes the alignment of
    each iterate with it, for "alignment vs number of HVPs" figures.
    """
    operator = _operator(model, loss_fn, batches, bn_mode, method, dtype, device)
    return dominant_eigenpair(
        operator, n_iter=n_iter, tol=tol, seed=seed, init_vector=init_vector,
        reference=reference, store_vectors=store_vectors,
    )


def ntk_eigenvalues(
    model: ModelOrOperator,
    batches: Sequence[Batch] | None = None,
    k: int = 1,
    seed: int = 0,
    *,
    scale: Scale | None = None,
    tol: float | None = None,
    max_hvp: int = 1000,
    krylov_dim: int | None = None,
    init_vectors: torch.Tensor | None = None,
    return_eigenvectors: bool = False,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> LanczosResult:
    """The k largest eigenvalues of ``scale · J Jᵀ`` (descending), from ``scale · Jᵀ J``.

    ``J`` is the Jacobian of all outputs of ``batches`` (targets unused) with respect to the
    trainable parameters; see :class:`~sharpness.spectrum.ntk.NTKOperator`. ``scale`` defaults
    to 1 (far-from-home's ``J Jᵀ`` for their loss ½‖z‖², compared with 2/η); ``scale="mse"`` is
    ``2/(N·C)``, the Gauss–Newton matrix of the package's ``mse`` loss, whose top eigenvalue is
    the one to compare with 2/η for a network trained on it. With a ready operator in place of
    the model, leave ``batches`` and ``scale`` out (the scale is the operator's). Eigenvectors,
    if asked, live in parameter space (right singular vectors of J).
    """
    if isinstance(model, nn.Module):
        if batches is None:
            raise ValueError("a model needs batches")
        operator = NTKOperator(model, batches, scale=1.0 if scale is None else scale,
                               dtype=dtype, device=device)
    elif batches is not None or scale is not None:
        raise ValueError("batches and scale only go with a model, not with an operator")
    else:
        operator = model
    return top_eigenpairs(
        operator, k, seed=seed, tol=tol, max_hvp=max_hvp, krylov_dim=krylov_dim,
        init_vectors=init_vectors, return_eigenvectors=return_eigenvectors,
    )


def _operator(
    model: ModelOrOperator,
    loss_fn: LossFn | None,
    batches: Sequence[Batch] | None,
    bn_mode: BnMode,
    method: HvpMethod,
    dtype: torch.dtype | None,
    device: torch.device | str | None,
) -> Any:
    if isinstance(model, nn.Module):
        if loss_fn is None or batches is None:
            raise ValueError("a model needs loss_fn and batches")
        return HessianOperator(
            model, loss_fn, batches, bn_mode=bn_mode, method=method, dtype=dtype, device=device
        )
    if loss_fn is not None or batches is not None:
        raise ValueError("loss_fn and batches only go with a model, not with an operator")
    return model
