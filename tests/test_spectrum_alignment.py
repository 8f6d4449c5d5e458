"""alignment and eigen-SAM's align measure, checked against direct minimisation."""

from __future__ import annotations

import math

import pytest
import torch

from sharpness.spectrum import align_eigen_sam, alignment


def _direct_align(eps: torch.Tensor, v1: torch.Tensor) -> float:
    """1 − min_{s ∈ {±1}} ‖ε/‖ε‖ − s·v1‖ evaluated at both signs (v1 taken unit), as eigen-sam
    defines it."""
    u = eps / eps.norm()
    v = v1 / v1.norm()
    return 1.0 - min(float((u - s * v).norm()) for s in (1.0, -1.0))


@pytest.mark.parametrize("seed", range(5))
def test_align_eigen_sam_matches_direct_minimisation(seed):
    gen = torch.Generator().manual_seed(seed)
    v1 = torch.randn(30, generator=gen, dtype=torch.float64)
    eps = 3.0 * torch.randn(30, generator=gen, dtype=torch.float64) + seed * v1
    assert align_eigen_sam(eps, v1) == pytest.approx(_direct_align(eps, v1), abs=1e-7)


def test_alignment_is_absolute_cosine_and_scale_sign_invariant():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(50, generator=gen, dtype=torch.float64)
    b = torch.randn(50, generator=gen, dtype=torch.float64)
    cosine = float(a @ b / (a.norm() * b.norm()))
    assert alignment(a, b) == pytest.approx(abs(cosine), rel=1e-12)
    assert alignment(-3 * a, 0.5 * b) == pytest.approx(abs(cosine), rel=1e-12)
    assert alignment(a, a) == 1.0


def test_limits_and_parameter_lists():
    v1 = torch.tensor([1.0, 0.0, 0.0])
    assert align_eigen_sam(torch.tensor([0.0, 2.0, 0.0]), v1) == pytest.approx(1 - math.sqrt(2))  # orthogonal
    assert align_eigen_sam(torch.tensor([1.0, math.sqrt(3), 0.0]), v1) == pytest.approx(0.0, abs=1e-7)  # |cos| = 1/2
    assert align_eigen_sam(torch.tensor([-5.0, 0.0, 0.0]), v1) == 1.0
    pieces = [torch.tensor([[1.0, 1.0]]), torch.tensor([0.0])]  # parameter-shaped
    assert alignment(pieces, torch.tensor([1.0, 0.0, 0.0])) == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(ValueError, match="zero"):
        alignment(torch.zeros(3), v1)
    with pytest.raises(ValueError, match="length"):
        alignment(torch.ones(2), v1)
