"""The symmetric linear operator interface the spectrum algorithms work on.

Every algorithm in this subpackage (Lanczos, power iteration, Hutchinson, SLQ) only needs
``matvec`` on flat 1-D vectors plus ``dim``/``dtype``/``device``, so the same code runs on a
network's Hessian (:class:`~sharpness.spectrum.operator.HessianOperator`) and on an explicit
matrix (:class:`MatrixOperator`), which is what the tests and toy models use.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class SymmetricOperator(Protocol):
    """A symmetric linear map on R^dim, applied to 1-D tensors of length ``dim``."""

    dim: int
    dtype: torch.dtype
    device: torch.device
    n_hvp: int

    def matvec(self, v: torch.Tensor) -> torch.Tensor: ...

    def describe(self) -> dict[str, Any]: ...


class MatrixOperator:
    """A dense symmetric matrix seen as an operator; each ``matvec`` counts as one HVP."""

    def __init__(self, matrix: torch.Tensor, *, check_symmetric: bool = True) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"need a square matrix, got shape {tuple(matrix.shape)}")
        if check_symmetric:
            scale = matrix.abs().max().clamp_min(1.0)
            asymmetry = (matrix - matrix.T).abs().max()
            if asymmetry > 1e3 * torch.finfo(matrix.dtype).eps * scale:
                raise ValueError(f"matrix is not symmetric (max |A - A^T| = {asymmetry:.3e})")
        self.matrix = matrix  # (dim, dim)
        self.dim = int(matrix.shape[0])
        self.dtype = matrix.dtype
        self.device = matrix.device
        self.n_hvp = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        _check_vector(v, self.dim)
        self.n_hvp += 1
        return self.matrix @ v

    def describe(self) -> dict[str, Any]:
        return {
            "operator": "matrix",
            "dim": self.dim,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }


def _check_vector(v: torch.Tensor, dim: int) -> None:
    if v.ndim != 1 or v.shape[0] != dim:
        raise ValueError(f"expected a 1-D vector of length {dim}, got shape {tuple(v.shape)}")


def _describe(operator: Any) -> dict[str, Any]:
    """Provenance of any operator; falls back to the bare facts for foreign ones."""
    if hasattr(operator, "describe"):
        return dict(operator.describe())
    return {
        "operator": type(operator).__name__,
        "dim": int(operator.dim),
        "dtype": str(operator.dtype).removeprefix("torch."),
        "device": str(operator.device),
    }
