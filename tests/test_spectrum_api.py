"""The public entry points, with a model or with an operator, and their provenance."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    make_case,
    one_torch_thread,
    reference_eigenvalues,
    reference_hessian,
)

import sharpness.spectrum as spectrum
from sharpness.spectrum import (
    HessianOperator,
    MatrixOperator,
    hessian_eigenvalues,
    hessian_frobenius_sq,
    hessian_trace,
    power_iteration,
    spectral_density,
)


@pytest.mark.parametrize("method", ("auto", "double_backward", "forward_over_reverse"))
def test_hessian_eigenvalues_from_a_model(method):
    case = make_case("cnn_bn_train")
    result = hessian_eigenvalues(case.model, case.loss_fn, case.batches, k=2, seed=0, tol=1e-10,
                                 bn_mode="train", method=method, return_eigenvectors=True)
    exact = reference_eigenvalues(case.name).flip(0)[:2]
    assert torch.allclose(result.eigenvalues, exact, rtol=1e-8)
    assert result.eigenvectors.shape == (2, result.settings["dim"])
    assert result.settings["bn_mode"] == "train" and result.settings["n_samples"] == 25
    expected_method = "double_backward" if method == "auto" else method
    assert result.settings["method"] == expected_method


def test_functions_accept_a_shared_operator_and_a_matrix_operator():
    case = make_case("mlp_relu_ce")
    operator = HessianOperator(case.model, case.loss_fn, case.batches)
    top = hessian_eigenvalues(operator, k=1, seed=0, tol=1e-10)
    trace = hessian_trace(operator, n_hvp=30, seed=0)
    frobenius = hessian_frobenius_sq(operator, n_hvp=30, seed=0, estimator="hutch++")
    assert operator.n_hvp == top.n_hvp + 60
    assert trace.method == "hutchinson" and frobenius.method == "hutch++"
    assert float(top.eigenvalues[0]) == pytest.approx(float(reference_eigenvalues(case.name)[-1]),
                                                      rel=1e-8)
    matrix = MatrixOperator(reference_hessian(case.name))
    same = hessian_eigenvalues(matrix, k=1, seed=0, tol=1e-10)
    assert torch.allclose(same.eigenvalues, top.eigenvalues, rtol=1e-10)
    assert same.settings["operator"] == "matrix"


def test_power_iteration_and_density_from_a_model():
    case = make_case("cnn_bn_eval")
    exact = reference_eigenvalues(case.name)
    dominant = float(exact[exact.abs().argmax()])
    power = power_iteration(case.model, case.loss_fn, case.batches, n_iter=400, tol=1e-9, seed=0)
    assert power.eigenvalue == pytest.approx(dominant, rel=1e-7)
    grid = torch.linspace(-12, 14, 521, dtype=torch.float64)
    density = spectral_density(case.model, case.loss_fn, case.batches, grid, 0.5, n_probes=4,
                               lanczos_steps=20, seed=0)
    assert float(torch.trapezoid(density.density, grid)) == pytest.approx(1.0, abs=1e-3)
    assert density.settings["algorithm"] == "slq" and density.settings["batch_sizes"] == [7, 13, 5]


def test_model_inputs_are_validated():
    case = make_case("mlp_tanh_mse")
    operator = HessianOperator(case.model, case.loss_fn, case.batches)
    with pytest.raises(ValueError, match="loss_fn and batches"):
        hessian_trace(case.model)
    with pytest.raises(ValueError, match="only go with a model"):
        hessian_trace(operator, case.loss_fn, case.batches)
    with pytest.raises(ValueError, match="grid and bandwidth"):
        spectral_density(operator)


def test_public_api_is_listed():
    for name in spectrum.__all__:
        assert hasattr(spectrum, name), name
    assert {"hessian_eigenvalues", "hessian_trace", "hessian_frobenius_sq", "spectral_density",
            "power_iteration", "alignment", "align_eigen_sam", "MatrixOperator",
            "HessianOperator"} <= set(spectrum.__all__)
