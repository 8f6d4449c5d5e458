"""Linear-stability bounds on the Frobenius sharpness of minima, late-sam Section 4.1, Table 2.

Near a minimum θ* with Hessian G, SGD and (unnormalized, stochastic) SAM with batch size B are
linearly stable only if ‖G‖²_F is small enough. γ is the gradient-noise alignment of
Assumption 4.1, γ ≤ Tr(ΣG) / (2L‖G‖²_F) with Σ the per-example gradient-noise covariance.
All functions broadcast over numpy arrays and return a float (or bool) for scalar inputs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .arrays import as_output, nonnegative, positive

__all__ = [
    "linear_stability_factor",
    "sam_frobenius_bound",
    "sam_stable",
    "sgd_frobenius_bound",
    "sgd_stable",
]


def linear_stability_factor(
    frob_sq: ArrayLike, batch_size: ArrayLike, lr: ArrayLike, rho: ArrayLike, gamma: ArrayLike
) -> float | np.ndarray:
    """C = η²γ‖H‖²_F/B · (1 + ρ²γ‖H‖²_F/B), late-sam Corollary 4.2 (eq. 9 of Appendix C.1).

    The expected loss grows at least like Cᵗ, so a minimum with C > 1 is escaped exponentially
    fast; ρ = 0 gives SGD's factor. ``frob_sq`` is ‖H‖²_F.
    """
    frob_sq = nonnegative("frob_sq", frob_sq)
    batch_size = positive("batch_size", batch_size)
    lr = positive("lr", lr)
    rho = nonnegative("rho", rho)
    gamma = positive("gamma", gamma)
    scaled = gamma * frob_sq / batch_size
    return as_output(lr**2 * scaled * (1.0 + rho**2 * scaled))


def sgd_frobenius_bound(batch_size: ArrayLike, lr: ArrayLike, gamma: ArrayLike) -> float | np.ndarray:
    """Largest ‖H‖²_F of an SGD-stable minimum, B/(η²γ): late-sam Table 2 (Wu et al. 2022)."""
    batch_size = positive("batch_size", batch_size)
    lr = positive("lr", lr)
    gamma = positive("gamma", gamma)
    return as_output(batch_size / (lr**2 * gamma))


def sam_frobenius_bound(
    batch_size: ArrayLike, lr: ArrayLike, rho: ArrayLike, gamma: ArrayLike
) -> float | np.ndarray:
    """Largest ‖H‖²_F of a SAM-stable minimum, late-sam Theorem 4.1 / Table 2.

    The positive root x of x(1 + ρ²γx/B) = B/(η²γ), written as 2c/(1 + √(1 + 4ac)) with
    a = ρ²γ/B and c = B/(η²γ) so that ρ = 0 gives SGD's bound c exactly.
    """
    rho = nonnegative("rho", rho)
    gamma = positive("gamma", gamma)
    batch_size = positive("batch_size", batch_size)
    sgd_bound = np.asarray(sgd_frobenius_bound(batch_size, lr, gamma))
    curvature = rho**2 * gamma / batch_size
    return as_output(2.0 * sgd_bound / (1.0 + np.sqrt(1.0 + 4.0 * curvature * sgd_bound)))


def sgd_stable(
    frob_sq: ArrayLike, batch_size: ArrayLike, lr: ArrayLike, gamma: ArrayLike
) -> bool | np.ndarray:
    """Whether ‖H‖²_F = ``frob_sq`` satisfies SGD's condition ‖H‖²_F ≤ B/(η²γ) (late-sam Table 2)."""
    return _as_bool(linear_stability_factor(frob_sq, batch_size, lr, 0.0, gamma) <= 1.0)


def sam_stable(
    frob_sq: ArrayLike, batch_size: ArrayLike, lr: ArrayLike, rho: ArrayLike, gamma: ArrayLike
) -> bool | np.ndarray:
    """Whether ``frob_sq`` satisfies SAM's ‖H‖²_F(1 + ρ²γ‖H‖²_F/B) ≤ B/(η²γ) (late-sam Thm. 4.1)."""
    return _as_bool(linear_stability_factor(frob_sq, batch_size, lr, rho, gamma) <= 1.0)


def _as_bool(result: bool | np.ndarray) -> bool | np.ndarray:
    return bool(result) if np.ndim(result) == 0 else result
