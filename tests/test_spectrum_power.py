"""Power iteration: the largest-MAGNITUDE eigenpair, with per-HVP history."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    make_case,
    one_torch_thread,
    reference_hessian,
    spectrum_matrix,
)

from sharpness.spectrum import HessianOperator, MatrixOperator, dominant_eigenpair


def test_converges_to_the_largest_magnitude_eigenvalue_even_when_negative():
    matrix = spectrum_matrix([3.0, -6.0], dim=200, seed=0)  # |−6| dominates, gap ratio 0.5
    result = dominant_eigenpair(MatrixOperator(matrix), n_iter=200, tol=1e-10, seed=0)
    assert result.converged
    assert result.eigenvalue == pytest.approx(-6.0, rel=1e-9)
    assert result.n_hvp == len(result.eigenvalue_history) == len(result.residual_history)
    assert result.residual <= 1e-10 * 6.0


def test_model_hessian_dominant_eigenvalue_and_alignment_history():
    case = make_case("cnn_bn_eval")
    values, vectors = torch.linalg.eigh(reference_hessian(case.name))
    top = int(values.abs().argmax())
    operator = HessianOperator(case.model, case.loss_fn, case.batches)
    result = dominant_eigenpair(operator, n_iter=500, tol=1e-9, seed=0,
                                reference=vectors[:, top], store_vectors=True)
    assert result.converged
    assert result.eigenvalue == pytest.approx(float(values[top]), rel=1e-8)
    alignments = result.alignment_history
    assert len(alignments) == result.n_hvp == result.vector_history.shape[0]
    assert alignments[0] < 0.5 and alignments[-1] > 1 - 1e-8
    # The recorded iterates are the ones the alignments were measured on.
    first = result.vector_history[0]
    assert abs(float(first @ vectors[:, top]) / float(first.norm())) == pytest.approx(alignments[0])


def test_budget_stop_reports_not_converged_and_same_seed_repeats():
    matrix = spectrum_matrix([1.0, 0.99], dim=100, seed=1)  # ratio 0.99: slow on purpose
    first = dominant_eigenpair(MatrixOperator(matrix), n_iter=10, tol=1e-12, seed=4)
    second = dominant_eigenpair(MatrixOperator(matrix), n_iter=10, tol=1e-12, seed=4)
    assert first.n_hvp == 10 and not first.converged
    assert first.eigenvalue_history == second.eigenvalue_history
    assert first.alignment_history is None and first.vector_history is None
