"""Hessian spectrum engine: top eigenpairs, trace, ‖H‖²_F, spectral density and alignment.

Algorithms work on any symmetric operator with ``matvec``/``dim`` (:class:`HessianOperator` for
a network's mean loss over a recorded data subset, :class:`MatrixOperator` for explicit
matrices); the ``hessian_*`` functions build the operator from ``(model, loss_fn, batches)``.
:class:`NTKOperator` (``scale · JᵀJ``, the NTK on parameter space) and :func:`ntk_eigenvalues`
give the top eigenvalues of the neural tangent kernel ``JJᵀ`` of ``(model, batches)``.
"""

from sharpness.spectrum.alignment import align_eigen_sam, alignment
from sharpness.spectrum.api import (
    hessian_eigenvalues,
    hessian_frobenius_sq,
    hessian_trace,
    ntk_eigenvalues,
    power_iteration,
    spectral_density,
)
from sharpness.spectrum.density import SpectralDensity, gaussian_mixture_density, slq_density
from sharpness.spectrum.lanczos import LanczosResult, top_eigenpairs
from sharpness.spectrum.linear_operator import MatrixOperator, SymmetricOperator
from sharpness.spectrum.ntk import NTKOperator
from sharpness.spectrum.operator import HessianOperator
from sharpness.spectrum.power import PowerIterationResult, dominant_eigenpair
from sharpness.spectrum.trace import TraceEstimate, estimate_frobenius_sq, estimate_trace

__all__ = [
    "HessianOperator",
    "LanczosResult",
    "MatrixOperator",
    "NTKOperator",
    "PowerIterationResult",
    "SpectralDensity",
    "SymmetricOperator",
    "TraceEstimate",
    "align_eigen_sam",
    "alignment",
    "dominant_eigenpair",
    "estimate_frobenius_sq",
    "estimate_trace",
    "gaussian_mixture_density",
    "hessian_eigenvalues",
    "hessian_frobenius_sq",
    "hessian_trace",
    "ntk_eigenvalues",
    "power_iteration",
    "slq_density",
    "spectral_density",
    "top_eigenpairs",
]
