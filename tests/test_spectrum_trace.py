"""Hutchinson and Hutch++ for tr(H) and ‖H‖²_F against the dense reference."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    MODEL_CASES,
    make_case,
    one_torch_thread,
    reference_eigenvalues,
    reference_hessian,
    spectrum_matrix,
)

from sharpness.spectrum import (
    HessianOperator,
    MatrixOperator,
    estimate_frobenius_sq,
    estimate_trace,
)

ESTIMATORS = ("hutchinson", "hutch++")
QUANTITIES = {
    "trace": (estimate_trace, lambda eigenvalues: float(eigenvalues.sum())),
    "frobenius_sq": (estimate_frobenius_sq, lambda eigenvalues: float((eigenvalues**2).sum())),
}


def _operator(name: str) -> HessianOperator:
    case = make_case(name)
    return HessianOperator(case.model, case.loss_fn, case.batches, bn_mode=case.bn_mode)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("quantity", QUANTITIES)
@pytest.mark.parametrize("name", MODEL_CASES)
def test_estimate_within_four_standard_errors(name, quantity, estimator):
    estimate_fn, exact_fn = QUANTITIES[quantity]
    exact = exact_fn(reference_eigenvalues(name))
    operator = _operator(name)
    result = estimate_fn(operator, n_hvp=45, method=estimator, seed=0)
    assert result.stderr > 0
    assert abs(result.estimate - exact) <= 4 * result.stderr + 1e-12 * abs(exact)
    assert result.n_hvp == operator.n_hvp == 45
    assert result.method == estimator and result.quantity == quantity


@pytest.mark.parametrize("quantity", QUANTITIES)
def test_hutch_plus_plus_beats_hutchinson_on_a_decaying_spectrum(quantity):
    estimate_fn, exact_fn = QUANTITIES[quantity]
    leading = [50.0 / (i + 1) for i in range(20)]  # a few large eigenvalues dominate
    matrix = spectrum_matrix(leading, dim=300, seed=0)
    exact = exact_fn(torch.linalg.eigvalsh(matrix))
    plain = estimate_fn(MatrixOperator(matrix), n_hvp=90, method="hutchinson", seed=1)
    plus = estimate_fn(MatrixOperator(matrix), n_hvp=90, method="hutch++", seed=1)
    assert plus.n_probes == 30 and plain.n_probes == 90
    assert plus.stderr < 0.5 * plain.stderr
    for result in (plain, plus):
        assert abs(result.estimate - exact) <= 4 * result.stderr


@pytest.mark.parametrize("name", MODEL_CASES)
def test_hutchinson_trace_stderr_matches_its_theoretical_value(name):
    # Rademacher probes: Var(zᵀ H z) = 2 (‖H‖²_F − Σ H_ii²).
    hessian = reference_hessian(name)
    variance = 2 * (float((hessian**2).sum()) - float((hessian.diagonal() ** 2).sum()))
    result = estimate_trace(_operator(name), n_hvp=45, seed=0)
    assert 0.6 < result.stderr / (variance / 45) ** 0.5 < 1.5


def test_stderr_matches_the_spread_over_seeds():
    matrix = spectrum_matrix([3.0, 2.0, -2.0], dim=80, seed=2)
    runs = [estimate_trace(MatrixOperator(matrix), n_hvp=20, seed=s) for s in range(40)]
    spread = torch.tensor([r.estimate for r in runs], dtype=torch.float64).std()
    mean_stderr = sum(r.stderr for r in runs) / len(runs)
    assert 0.6 < float(spread) / mean_stderr < 1.6


def test_same_seed_same_estimate_and_samples_recorded():
    operator = _operator("mlp_relu_ce")
    first = estimate_trace(operator, n_hvp=12, method="hutch++", seed=5)
    second = estimate_trace(operator, n_hvp=12, method="hutch++", seed=5)
    assert first.estimate == second.estimate and torch.equal(first.samples, second.samples)
    assert first.samples.shape == (first.n_probes,) == (4,)
    assert first.settings["seed"] == 5 and first.settings["algorithm"] == "hutch++"


def test_too_few_hvps_rejected():
    operator = MatrixOperator(torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_hvp"):
        estimate_trace(operator, n_hvp=1)
    with pytest.raises(ValueError, match="n_hvp"):
        estimate_frobenius_sq(operator, n_hvp=3, method="hutch++")
    with pytest.raises(ValueError, match="method"):
        estimate_trace(operator, n_hvp=10, method="exact")
