"""Stochastic Lanczos quadrature density against the exact, identically smoothed spectrum."""

from __future__ import annotations

import math

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    make_case,
    one_torch_thread,
    reference_eigenvalues,
    spectrum_matrix,
)

from sharpness.spectrum import HessianOperator, MatrixOperator, slq_density


def _exact_smoothed(eigenvalues: torch.Tensor, grid: torch.Tensor, bandwidth: float):
    """(1/n) Σ_i N(x; λ_i, σ²), written out independently of the package."""
    gaps = grid[:, None] - eigenvalues[None, :]
    kernel = torch.exp(-(gaps**2) / (2 * bandwidth**2)) / math.sqrt(2 * math.pi * bandwidth**2)
    return kernel.mean(dim=1)


def _cdf(density: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros(1, dtype=torch.float64),
                      torch.cumulative_trapezoid(density, grid)])


def test_density_integrates_to_one_and_matches_smoothed_exact_spectrum():
    case = make_case("cnn_bn_eval")
    exact = reference_eigenvalues(case.name)
    grid = torch.linspace(float(exact[0]) - 2, float(exact[-1]) + 2, 2001, dtype=torch.float64)
    bandwidth = 0.3
    operator = HessianOperator(case.model, case.loss_fn, case.batches)
    result = slq_density(operator, grid, bandwidth, n_probes=30, lanczos_steps=30, seed=0)
    assert float(torch.trapezoid(result.density, grid)) == pytest.approx(1.0, abs=1e-3)
    reference = _exact_smoothed(exact, grid, bandwidth)
    l1 = float(torch.trapezoid((result.density - reference).abs(), grid))
    assert l1 < 0.08
    cdf, reference_cdf = _cdf(result.density, grid), _cdf(reference, grid)
    assert float((cdf - reference_cdf).abs().max()) < 0.03
    assert result.n_hvp == operator.n_hvp == 30 * 30


def test_density_error_is_random_not_systematic():
    # With enough probes the L1 error must shrink: a wrong weight or node formula would not.
    matrix = spectrum_matrix([4.0, 3.0], dim=200, seed=0)
    exact = torch.linalg.eigvalsh(matrix)
    grid = torch.linspace(-3, 7, 1001, dtype=torch.float64)
    reference = _exact_smoothed(exact, grid, 0.2)

    def l1(n_probes: int) -> float:
        result = slq_density(MatrixOperator(matrix), grid, 0.2, n_probes=n_probes,
                             lanczos_steps=40, seed=1)
        return float(torch.trapezoid((result.density - reference).abs(), grid))

    few, many = l1(2), l1(64)
    assert many < 0.05
    assert many < few


def test_nodes_and_weights_are_quadrature_rules():
    matrix = spectrum_matrix([2.0], dim=12, seed=3)
    exact = torch.linalg.eigvalsh(matrix)
    grid = torch.linspace(-3, 4, 701, dtype=torch.float64)
    result = slq_density(MatrixOperator(matrix), grid, 0.1, n_probes=4, lanczos_steps=20, seed=2)
    assert result.nodes.shape == result.weights.shape == (4, 20)
    assert torch.allclose(result.weights.sum(dim=1), torch.ones(4, dtype=torch.float64))
    # 12 steps span the whole space: the nodes are the eigenvalues, the rest is padding.
    assert torch.isnan(result.nodes[:, 12:]).all() and (result.weights[:, 12:] == 0).all()
    for nodes in result.nodes[:, :12]:
        assert torch.allclose(nodes, exact, atol=1e-10)
    # A full-space rule reproduces uᵀ A u for each normalised probe (degree-1 moment).
    mean_moment = float((result.weights * torch.nan_to_num(result.nodes)).sum(dim=1).mean())
    assert mean_moment == pytest.approx(float(exact.mean()), abs=0.2)


def test_same_seed_same_density_and_grid_is_callers():
    matrix = spectrum_matrix([2.0], dim=30, seed=4)
    grid = [-2.0, -1.0, 0.0, 1.0, 2.5]
    first = slq_density(MatrixOperator(matrix), grid, 0.5, n_probes=3, lanczos_steps=10, seed=9)
    second = slq_density(MatrixOperator(matrix), grid, 0.5, n_probes=3, lanczos_steps=10, seed=9)
    assert torch.equal(first.density, second.density)
    assert first.grid.tolist() == grid
    assert first.settings["bandwidth"] == 0.5 and first.settings["seed"] == 9
    with pytest.raises(ValueError, match="bandwidth"):
        slq_density(MatrixOperator(matrix), grid, 0.0)
