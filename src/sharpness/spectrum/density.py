"""Spectral density by stochastic Lanczos quadrature (SLQ), smoothed on a caller-given grid.

The density of A is ``φ(x) = (1/dim) Σ_i δ(x − λ_i)``. For a unit probe ``u``,
``uᵀ g(A) u = Σ_i (uᵀ q_i)² g(λ_i)``, and ``m`` Lanczos steps from ``u`` give the Gauss
quadrature of that sum: nodes = eigenvalues θ_j of the projected tridiagonal T, weights = squared
first components of T's eigenvectors (they sum to 1). Averaging over Rademacher probes (for
which ``E[(uᵀ q_i)²] = 1/dim``) and replacing δ by a Gaussian of the caller's bandwidth gives a
smooth density. The grid and bandwidth are inputs so that densities of different checkpoints
are evaluated identically and can be compared point by point; the nodes and weights are returned
too, so a density can be re-evaluated later on another grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sharpness.spectrum.lanczos import lanczos_projection
from sharpness.spectrum.linear_operator import SymmetricOperator, _describe
from sharpness.spectrum.probes import make_generator, rademacher_vectors


@dataclass(frozen=True)
class SpectralDensity:
    grid: torch.Tensor  # (n_grid,) float64
    density: torch.Tensor  # (n_grid,) float64
    nodes: torch.Tensor  # (n_probes, lanczos_steps) float64; NaN where a probe stopped early
    weights: torch.Tensor  # (n_probes, lanczos_steps) float64; rows sum to 1, 0 on padding
    bandwidth: float
    n_probes: int
    lanczos_steps: int
    n_hvp: int
    settings: dict[str, Any] = field(default_factory=dict)


def slq_density(
    operator: SymmetricOperator,
    grid: torch.Tensor | np.ndarray | list[float],
    bandwidth: float,
    *,
    n_probes: int = 10,
    lanczos_steps: int = 80,
    seed: int = 0,
) -> SpectralDensity:
    """Gaussian-smoothed spectral density on ``grid`` from ``n_probes`` Lanczos runs.

    It integrates to 1 over any grid that covers the spectrum plus a few bandwidths on each side
    and is finer than the bandwidth. Probes are Rademacher vectors from a local generator.
    """
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    if n_probes < 1 or lanczos_steps < 1:
        raise ValueError("n_probes and lanczos_steps must be positive")
    grid64 = torch.as_tensor(grid, dtype=torch.float64).reshape(-1)
    generator = make_generator(seed)
    probes = rademacher_vectors(n_probes, operator.dim, generator, operator.dtype, operator.device)
    nodes = torch.full((n_probes, lanczos_steps), math.nan, dtype=torch.float64)
    weights = torch.zeros(n_probes, lanczos_steps, dtype=torch.float64)
    n_hvp = 0
    for p, probe in enumerate(probes):
        projected = lanczos_projection(operator, probe, lanczos_steps)  # (m, m), m ≤ steps
        theta, vectors = torch.linalg.eigh(projected)
        m = theta.numel()
        nodes[p, :m] = theta
        weights[p, :m] = vectors[0] ** 2
        n_hvp += m

    settings = {**_describe(operator), "algorithm": "slq", "n_probes": n_probes,
                "lanczos_steps": lanczos_steps, "bandwidth": float(bandwidth), "seed": seed}
    return SpectralDensity(
        grid=grid64,
        density=gaussian_mixture_density(nodes, weights, grid64, bandwidth),
        nodes=nodes,
        weights=weights,
        bandwidth=float(bandwidth),
        n_probes=n_probes,
        lanczos_steps=lanczos_steps,
        n_hvp=n_hvp,
        settings=settings,
    )


def gaussian_mixture_density(
    nodes: torch.Tensor, weights: torch.Tensor, grid: torch.Tensor, bandwidth: float
) -> torch.Tensor:
    """``(1/P) Σ_p Σ_j w_pj N(x; θ_pj, bandwidth²)`` on ``grid``; NaN nodes (with 0 weight) ignored.

    nodes, weights: (P, m); grid: (n_grid,). Returns (n_grid,) float64.
    """
    nodes = torch.as_tensor(nodes, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    grid = torch.as_tensor(grid, dtype=torch.float64).reshape(-1)
    valid = ~torch.isnan(nodes)
    centres = nodes[valid]  # (n_valid,)
    mass = weights[valid] / nodes.shape[0]  # (n_valid,)
    z = (grid[:, None] - centres[None, :]) / bandwidth  # (n_grid, n_valid)
    kernel = torch.exp(-0.5 * z * z) / (bandwidth * math.sqrt(2 * math.pi))
    return kernel @ mass
