"""Normalized SAM on a convex quadratic: the 2-cycle of ravines Theorem 2 (Bartlett et al. 2023)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .arrays import as_output, nonnegative, positive

__all__ = ["normalized_sam_quadratic_iterates", "quadratic_two_cycle"]


def quadratic_two_cycle(lr: ArrayLike, rho: ArrayLike, lam1: ArrayLike) -> float | np.ndarray:
    """Amplitude of the 2-cycle of normalized SAM on L(w) = ½ wᵀΛw, ravines Theorem 2.

    For λ₁ > λ₂ ≥ … > 0 and a small step size, SAM's iterates converge almost surely to the
    oscillation w = ±ηρλ₁/(2 − ηλ₁)·e₁ along the top eigenvector. (Fixed point of the 1-D map
    w ↦ w − ηλ₁(w + ρ sign w) with w ↦ −w.) Returns ηρλ₁/(2 − ηλ₁); requires ηλ₁ < 2, beyond
    which the cycle does not exist. The theorem's exact step-size condition is illegible in our
    copy of the paper; BR-F1 uses λ₁ = 1, η = 1/5, ρ = 1, for an amplitude of 1/9.
    """
    lr = positive("lr", lr)
    rho = nonnegative("rho", rho)
    lam1 = positive("lam1", lam1)
    if (lr * lam1 >= 2).any():
        raise ValueError(f"the 2-cycle needs lr * lam1 < 2, got lr={lr!r}, lam1={lam1!r}")
    return as_output(lr * rho * lam1 / (2.0 - lr * lam1))


def normalized_sam_quadratic_iterates(
    eigenvalues: ArrayLike, start: ArrayLike, lr: float, rho: float, steps: int
) -> np.ndarray:
    """Iterates w₀, …, w_steps of w ← w − η∇L(w + ρ∇L(w)/‖∇L(w)‖) for L(w) = ½ Σ λᵢwᵢ².

    The ravines paper's eq. (2) in the eigenbasis (as in its Fig. 1). At a point with zero
    gradient the perturbation is taken to be zero, so the origin stays fixed. Returns an
    array of shape (steps + 1, dimension).
    """
    eigenvalues = np.atleast_1d(positive("eigenvalues", eigenvalues))
    lr, rho = float(positive("lr", lr)), float(nonnegative("rho", rho))
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    iterates = np.empty((steps + 1, eigenvalues.size))
    iterates[0] = np.asarray(start, dtype=float).reshape(eigenvalues.shape)
    for t in range(steps):
        w = iterates[t]
        grad = eigenvalues * w
        norm = np.linalg.norm(grad)
        ascent = rho * grad / norm if norm > 0 else np.zeros_like(w)
        iterates[t + 1] = w - lr * eigenvalues * (w + ascent)
    return iterates
