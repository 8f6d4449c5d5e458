"""Edges of stability: the sharpness at which GD and SAM stop being stable on a quadratic.

All functions broadcast over numpy arrays and return a float for scalar inputs. Quadratic roots
are written as 2c / (1 + sqrt(1 + 4ac)) instead of (sqrt(1 + 4ac) - 1) / (2a): the same number,
without cancellation for small ``rho`` and exact at ``rho = 0``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .arrays import as_output, nonnegative, positive, real

__all__ = [
    "gd_edge",
    "sam_edge_alpha",
    "sam_edge_normalized",
    "sam_edge_ratio",
    "sam_eos_unnormalized",
    "sam_eos_value",
]


def gd_edge(lr: ArrayLike) -> float | np.ndarray:
    """Edge of stability of gradient descent, 2/η (Cohen et al. 2021; sam-eos Section 1)."""
    return as_output(2.0 / positive("lr", lr))


def sam_eos_unnormalized(lr: ArrayLike, rho: ArrayLike) -> float | np.ndarray:
    """SAM edge of stability for unnormalized SAM, far-from-home Section 3 (SAM-EOS).

    On a quadratic with top eigenvalue λ, the step θ ← θ − η∇L(θ + ρ∇L(θ)) multiplies the top
    component by 1 − η(λ + ρλ²); it is stable while η(λ + ρλ²) ≤ 2. The positive root is
    λ* = (√(1 + 8ρ/η) − 1)/(2ρ), which tends to 2/η as ρ → 0 (exactly 2/η at ρ = 0) and to 0
    as ρ → ∞.
    """
    lr = positive("lr", lr)
    rho = nonnegative("rho", rho)
    return as_output((4.0 / lr) / (1.0 + np.sqrt(1.0 + 8.0 * rho / lr)))


def sam_edge_normalized(lr: ArrayLike, rho: ArrayLike, grad_norm: ArrayLike) -> float | np.ndarray:
    """SAM-edge of normalized SAM, sam-eos Proposition 2 and eq. after it (Long & Bartlett 2024).

    λ* = ‖g‖/(2ρ) · (√(1 + 8ρ/(η‖g‖)) − 1): the top eigenvalue above which a normalized SAM
    step θ ← θ − η∇L(θ + ρ g/‖g‖) increases the loss of a quadratic. It equals the unnormalized
    SAM-EOS with radius ρ/‖g‖. At ρ = 0 it is 2/η; at ‖g‖ = 0 < ρ it is 0.
    """
    lr = positive("lr", lr)
    rho = nonnegative("rho", rho)
    grad_norm = nonnegative("grad_norm", grad_norm)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is replaced by the ρ = 0 branch
        radius = np.where(rho == 0, 0.0, rho / grad_norm)
    return sam_eos_unnormalized(lr, radius)


def sam_edge_alpha(lr: ArrayLike, rho: ArrayLike, grad_norm: ArrayLike) -> float | np.ndarray:
    """α = η‖g‖/(2ρ), the single parameter of the SAM-edge ratio (sam-eos Section 4, Fig. 1)."""
    lr = positive("lr", lr)
    rho = positive("rho", rho)
    grad_norm = nonnegative("grad_norm", grad_norm)
    return as_output(lr * grad_norm / (2.0 * rho))


def sam_edge_ratio(alpha: ArrayLike) -> float | np.ndarray:
    """SAM-edge divided by 2/η as a function of α = η‖g‖/(2ρ), sam-eos Fig. 1.

    (α/2)(√(1 + 4/α) − 1), increasing from 0 at α = 0 to 1 as α → ∞ (SAM behaves like GD when
    the gradient is large compared with ρ/η).
    """
    alpha = nonnegative("alpha", alpha)
    with np.errstate(divide="ignore"):
        ratio = 2.0 / (1.0 + np.sqrt(1.0 + 4.0 / alpha))
    return as_output(ratio)


def sam_eos_value(lr: ArrayLike, rho: ArrayLike, lam: ArrayLike) -> float | np.ndarray:
    """η(λ + ρλ²), far-from-home Section 3: unnormalized SAM is at its edge when this equals 2.

    ``lam`` is a Hessian eigenvalue (any real number); with ρ = 0 this is GD's ηλ.
    """
    lr = positive("lr", lr)
    rho = nonnegative("rho", rho)
    lam = real("lam", lam)
    return as_output(lr * (lam + rho * lam**2))
