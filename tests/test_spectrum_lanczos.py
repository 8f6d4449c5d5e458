"""Thick-restart Lanczos: top-k algebraic eigenpairs against dense eigvalsh."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    MODEL_CASES,
    make_case,
    one_torch_thread,
    reference_eigenvalues,
    spectrum_matrix,
)

from sharpness.spectrum import HessianOperator, MatrixOperator, top_eigenpairs

K = 3
HVP_METHODS = ("double_backward", "forward_over_reverse")


def _model_operator(name: str, method: str = "auto") -> HessianOperator:
    case = make_case(name)
    return HessianOperator(case.model, case.loss_fn, case.batches, bn_mode=case.bn_mode,
                           method=method)


def _relative_error(found: torch.Tensor, exact: torch.Tensor) -> float:
    return float(((found - exact).abs() / exact.abs()).max())


@pytest.mark.parametrize("method", HVP_METHODS)
@pytest.mark.parametrize("name", MODEL_CASES)
def test_top_k_matches_dense_eigvalsh(name, method):
    exact = reference_eigenvalues(name).flip(0)[:K]  # descending
    result = top_eigenpairs(_model_operator(name, method), K, seed=0, tol=1e-10)
    assert bool(result.converged.all())
    assert _relative_error(result.eigenvalues, exact) < 1e-6
    assert torch.all(result.eigenvalues[:-1] >= result.eigenvalues[1:])


def test_indefinite_operator_returns_top_positive_not_largest_magnitude():
    top = [3.0, 2.5, 2.0, 1.5, 1.2]
    matrix = spectrum_matrix(top + [-10.0, -8.0, -7.5], dim=300, seed=0)
    result = top_eigenpairs(MatrixOperator(matrix), 5, seed=0, tol=1e-10)
    assert bool(result.converged.all())
    assert _relative_error(result.eigenvalues, torch.tensor(top, dtype=torch.float64)) < 1e-9


def test_saddle_model_top_k_includes_negative_values_in_algebraic_order():
    exact = reference_eigenvalues("saddle_cosine").flip(0)[:K]
    assert exact[-1] < 0 < exact[0]
    result = top_eigenpairs(_model_operator("saddle_cosine"), K, seed=1, tol=1e-10)
    assert _relative_error(result.eigenvalues, exact) < 1e-6


def test_restarts_reach_tolerance_and_residuals_are_true_residuals():
    matrix = spectrum_matrix([4.0, 3.99, 3.98, 3.9], dim=400, seed=2)  # clustered: needs restarts
    operator = MatrixOperator(matrix)
    result = top_eigenpairs(operator, 4, seed=0, tol=1e-9, krylov_dim=12,
                            return_eigenvectors=True)
    assert result.n_restarts > 0
    assert bool(result.converged.all())
    vectors = result.eigenvectors  # (k, dim)
    recomputed = torch.linalg.vector_norm(vectors @ matrix - result.eigenvalues[:, None] * vectors,
                                          dim=1)
    assert torch.allclose(result.residuals, recomputed, rtol=1e-3, atol=1e-13)
    assert torch.allclose(vectors @ vectors.T, torch.eye(4, dtype=torch.float64), atol=1e-10)
    assert result.n_hvp == operator.n_hvp


@pytest.mark.parametrize("name", ("mlp_relu_ce", "cnn_bn_eval"))
def test_model_residuals_match_recomputed_hvps(name):
    operator = _model_operator(name)
    result = top_eigenpairs(operator, K, seed=0, tol=1e-4, return_eigenvectors=True)
    for theta, y, reported in zip(result.eigenvalues, result.eigenvectors, result.residuals):
        recomputed = torch.linalg.vector_norm(operator.matvec(y) - theta * y)
        assert float(reported) == pytest.approx(float(recomputed), rel=1e-4, abs=1e-12)


def test_budget_exhaustion_reports_unconverged_pairs():
    matrix = spectrum_matrix([4.0, 3.99, 3.98], dim=400, seed=3)
    result = top_eigenpairs(MatrixOperator(matrix), 3, seed=0, tol=1e-12, max_hvp=8)
    assert result.n_hvp == 8
    assert not bool(result.converged.all())
    assert result.eigenvalues.shape == (3,)


def test_warm_start_from_exact_eigenvectors_needs_only_k_hvps():
    matrix = spectrum_matrix([5.0, 4.0, 3.0, 2.0], dim=300, seed=4)
    exact_values, exact_vectors = torch.linalg.eigh(matrix)
    top_vectors = exact_vectors[:, -4:].T  # (4, dim)
    cold = top_eigenpairs(MatrixOperator(matrix), 4, seed=0, tol=1e-10)
    warm = top_eigenpairs(MatrixOperator(matrix), 4, seed=0, tol=1e-10, init_vectors=top_vectors)
    assert bool(warm.converged.all())
    assert warm.n_hvp == 4 < cold.n_hvp
    assert torch.allclose(warm.eigenvalues, exact_values[-4:].flip(0), rtol=1e-12)


def test_warm_start_after_a_small_change_beats_a_cold_start():
    matrix = spectrum_matrix([5.0, 4.0, 3.0, 2.0], dim=300, seed=5)
    previous = top_eigenpairs(MatrixOperator(matrix), 4, seed=0, tol=1e-8,
                              return_eigenvectors=True)
    noise = torch.randn(300, 300, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    moved = matrix + 1e-3 * (noise + noise.T)
    cold = top_eigenpairs(MatrixOperator(moved), 4, seed=0, tol=1e-8)
    warm = top_eigenpairs(MatrixOperator(moved), 4, seed=0, tol=1e-8,
                          init_vectors=previous.eigenvectors)
    assert bool(warm.converged.all())
    assert warm.n_hvp < cold.n_hvp
    assert torch.allclose(warm.eigenvalues, cold.eigenvalues, rtol=1e-7)


def test_same_seed_same_result_and_global_rng_untouched():
    operator = _model_operator("mlp_tanh_mse")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = top_eigenpairs(operator, K, seed=7, tol=1e-8, return_eigenvectors=True)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)  # a different global state must not matter
    second = top_eigenpairs(operator, K, seed=7, tol=1e-8, return_eigenvectors=True)
    assert torch.equal(first.eigenvalues, second.eigenvalues)
    assert torch.equal(first.eigenvectors, second.eigenvectors)
    assert first.n_hvp == second.n_hvp
    other = top_eigenpairs(operator, K, seed=8, tol=1e-8, return_eigenvectors=True)
    assert not torch.equal(first.eigenvectors, other.eigenvectors)


def test_zero_eigenvalues_can_converge():
    # Rank-2 matrix, k=3: the third eigenvalue is exactly 0 and relative tolerance is meaningless.
    basis, _ = torch.linalg.qr(torch.randn(50, 2, generator=torch.Generator().manual_seed(0),
                                           dtype=torch.float64))
    matrix = basis @ torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64)) @ basis.T
    result = top_eigenpairs(MatrixOperator((matrix + matrix.T) / 2), 3, seed=0, tol=1e-8)
    assert bool(result.converged.all())
    assert torch.allclose(result.eigenvalues, torch.tensor([2.0, 1.0, 0.0], dtype=torch.float64),
                          atol=1e-12)


def test_small_operator_spanned_completely():
    matrix = spectrum_matrix([1.0, 0.5], dim=6, seed=7)
    result = top_eigenpairs(MatrixOperator(matrix), 6, seed=0, tol=1e-10)
    exact = torch.linalg.eigvalsh(matrix).flip(0)
    assert torch.allclose(result.eigenvalues, exact, atol=1e-12)
    assert result.n_hvp <= 7


def test_settings_record_provenance():
    result = top_eigenpairs(_model_operator("mlp_relu_ce"), 2, seed=3, tol=1e-6, max_hvp=200)
    settings = result.settings
    assert settings["algorithm"] == "thick_restart_lanczos"
    requested = (settings["k"], settings["seed"], settings["tol"], settings["max_hvp"])
    assert requested == (2, 3, 1e-6, 200)
    assert settings["batch_sizes"] == [7, 13, 5] and settings["bn_mode"] == "eval"


def test_invalid_requests_are_rejected():
    operator = MatrixOperator(torch.eye(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(operator, 5)
    with pytest.raises(ValueError, match="max_hvp"):
        top_eigenpairs(operator, 3, max_hvp=2)
