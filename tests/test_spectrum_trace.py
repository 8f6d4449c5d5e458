"""Hutchinson, Hutch++ and the exact method for tr(H) and ‖H‖²_F against the dense reference,
and the coverage of Hutch++'s 95 % intervals."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    MODEL_CASES,
    Case,
    dense_hessian,
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
from sharpness.spectrum.trace import exact_trace_and_frobenius_sq

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
        estimate_trace(operator, n_hvp=10, method="lanczos")


@pytest.mark.parametrize("name", MODEL_CASES)
def test_exact_method_is_the_dense_reference_with_zero_error(name):
    eigenvalues = reference_eigenvalues(name)
    operator = _operator(name)
    trace, frob = exact_trace_and_frobenius_sq(operator)
    assert trace.estimate == pytest.approx(float(eigenvalues.sum()), rel=1e-9, abs=1e-12)
    assert frob.estimate == pytest.approx(float((eigenvalues**2).sum()), rel=1e-9)
    assert operator.n_hvp == operator.dim == frob.n_hvp, "one HVP per unit vector, shared by both"
    for result in (trace, frob):
        assert result.exact and result.method == "exact" and result.stderr == 0 and result.ci95 == 0
    assert estimate_frobenius_sq(_operator(name), method="exact").estimate == frob.estimate


def _network_hessian() -> torch.Tensor:
    """A small tanh MLP's Hessian (212 parameters, squared loss on 64 random samples)."""
    gen = torch.Generator().manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.8 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(64, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(64, 4, generator=gen, dtype=torch.float64)
    return dense_hessian(Case("mlp", model, torch.nn.functional.mse_loss, [(x, y)]))


def _lognormal_matrix(dim: int, seed: int) -> torch.Tensor:
    """Positive eigenvalues spread over ~4 decades (log-normal, σ = 2) in a random basis."""
    gen = torch.Generator().manual_seed(seed)
    eigenvalues = torch.exp(2.0 * torch.randn(dim, generator=gen, dtype=torch.float64))
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
    matrix = basis @ torch.diag(eigenvalues) @ basis.T
    return (matrix + matrix.T) / 2


COVERAGE_CASES = {
    "decaying spectrum": lambda: spectrum_matrix([50.0 / (i + 1) for i in range(20)], dim=200, seed=1),
    "log-normal spectrum": lambda: _lognormal_matrix(200, seed=1),
    "network Hessian": _network_hessian,
}


@pytest.mark.parametrize("quantity", QUANTITIES)
@pytest.mark.parametrize("case", COVERAGE_CASES)
def test_hutch_plus_plus_95_percent_intervals_cover_the_truth_95_percent_of_the_time(case, quantity):
    """200 draws of 30 HVPs (10 probes) each: the intervals estimate ± ci95 cover the exact value
    in 90-99 % of draws (measured 93-98 %). With the probes' sample standard deviation and the
    normal quantile, as before, they covered 87-93 % here, and 84 % for ‖H‖²_F of digits-switch's
    CNN from 20 HVPs (now 92 %)."""
    estimate_fn, exact_fn = QUANTITIES[quantity]
    matrix = COVERAGE_CASES[case]()
    exact = exact_fn(torch.linalg.eigvalsh(matrix))
    draws = [estimate_fn(MatrixOperator(matrix), n_hvp=30, method="hutch++", seed=seed) for seed in range(200)]
    covered = sum(abs(d.estimate - exact) <= d.ci95 for d in draws) / len(draws)
    assert 0.90 <= covered <= 0.99, f"{case}, {quantity}: {covered:.3f} of the 95 % intervals cover"
