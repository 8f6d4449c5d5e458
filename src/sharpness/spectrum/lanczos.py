"""Thick-restart Lanczos with full reorthogonalisation for the k largest algebraic eigenvalues.

Notation: ``V`` holds orthonormal basis vectors as rows, ``A`` is the operator, ``H`` the
projected matrix ``V A V^T`` (float64). Every new vector is orthogonalised against the whole
basis twice (classical Gram-Schmidt, "twice is enough"), so the basis stays orthonormal to
rounding and no ghost eigenvalues appear. The coefficients of that orthogonalisation are kept as
the new column of ``H``; this records the usual tridiagonal matrix, and after a restart the
arrowhead block, without special cases, and ``A V_j^T = V_j^T H_j + f e_j^T`` holds throughout.
Then a Ritz pair ``(θ, y = V^T s)`` has residual ``‖A y − θ y‖ = ‖f‖·|s_last|`` (up to rounding)
at no extra HVP.

Restart (Wu & Simon's thick restart): when the basis is full, keep the leading Ritz vectors and
the residual direction ``f/‖f‖``; their projected matrix is ``diag(θ)`` bordered by the couplings
``‖f‖·s_last``, and the iteration goes on from the residual direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from sharpness.spectrum.linear_operator import SymmetricOperator, _describe
from sharpness.spectrum.probes import gaussian_vectors, make_generator

# Rounding floor of the convergence test, in units of eps·‖A‖: a residual below it cannot be
# told apart from rounding error of the HVP itself.
_ROUNDING_FLOOR = 100.0


@dataclass(frozen=True)
class LanczosResult:
    eigenvalues: torch.Tensor  # (k,) float64, largest algebraic first
    residuals: torch.Tensor  # (k,) float64, ‖A y − θ y‖ of each Ritz pair
    converged: torch.Tensor  # (k,) bool
    eigenvectors: torch.Tensor | None  # (k, dim) operator dtype, unit rows; None unless asked
    n_hvp: int
    n_restarts: int
    settings: dict[str, Any] = field(default_factory=dict)


def default_tolerance(dtype: torch.dtype) -> float:
    """sqrt(machine epsilon): a residual that small puts the eigenvalue at ~eps accuracy."""
    return math.sqrt(torch.finfo(dtype).eps)


def top_eigenpairs(
    operator: SymmetricOperator,
    k: int,
    *,
    seed: int = 0,
    tol: float | None = None,
    max_hvp: int = 1000,
    krylov_dim: int | None = None,
    init_vectors: torch.Tensor | None = None,
    return_eigenvectors: bool = False,
) -> LanczosResult:
    """The ``k`` largest algebraic eigenpairs, descending, with residuals and convergence flags.

    A pair counts as converged when ``‖A y − θ y‖ ≤ max(tol·|θ|, 100·eps·‖A‖)``, i.e.
    ``tol·max(|θ|, tiny)`` with ``tiny = 100·eps·‖A‖/tol`` (eps of the operator dtype, ‖A‖
    estimated by the largest |Ritz value|), so eigenvalues at zero can converge too. The run
    stops when all ``k`` pairs converged or ``max_hvp`` HVPs were spent.

    ``init_vectors`` (r, dim), e.g. the previous checkpoint's eigenvectors, replace the random
    start by the sum of their orthonormalised directions: the Krylov space then starts inside
    their span (exact eigenvectors give an invariant subspace, found in r HVPs). A start inside an
    exactly invariant subspace cannot see eigenvalues outside it; a previous checkpoint's vectors
    are not invariant for the new Hessian, so Lanczos still explores beyond them. ``seed`` drives
    a local generator for the random start and for restarts after an invariant subspace.
    """
    dim = int(operator.dim)
    if not 1 <= k <= dim:
        raise ValueError(f"k must be in [1, {dim}], got {k}")
    if max_hvp < k:
        raise ValueError(f"max_hvp={max_hvp} cannot resolve k={k} eigenpairs")
    tol = default_tolerance(operator.dtype) if tol is None else float(tol)
    capacity = _krylov_capacity(k, dim, krylov_dim)
    generator = make_generator(seed)
    state = _KrylovState(operator, capacity, generator)
    state.start(_start_vector(operator, init_vectors, generator))

    n_restarts = 0
    while True:
        state.expand()
        ritz = state.ritz_pairs()
        converged = _converged(ritz, k, tol, operator.dtype)
        out_of_budget = state.n_hvp >= max_hvp
        if (ritz.values.numel() >= k and bool(converged.all())) or out_of_budget:
            break
        if state.invariant:
            if state.size == dim:
                break
            state.add_random_direction()
        if state.size == capacity:
            state.restart(ritz, _n_kept(k, capacity))
            n_restarts += 1

    return _result(state, ritz, k, tol, n_restarts, return_eigenvectors, capacity, seed, max_hvp)


def lanczos_projection(
    operator: SymmetricOperator, start: torch.Tensor, steps: int
) -> torch.Tensor:
    """``V A V^T`` (float64, at most steps × steps) of the Krylov space of ``start``.

    Stops early at an invariant subspace; with no restart the matrix is the Lanczos tridiagonal
    (up to rounding-level entries left by reorthogonalisation), as quadrature needs.
    """
    steps = min(int(steps), int(operator.dim))
    state = _KrylovState(operator, steps, generator=None)
    state.start(start)
    while True:
        state.expand()
        if state.invariant or state.size == steps:
            return state.projected_matrix()


@dataclass(frozen=True)
class _RitzPairs:
    values: torch.Tensor  # (j,) float64, descending
    vectors: torch.Tensor  # (j, j) float64, column i is the coordinates of pair i in the basis
    residuals: torch.Tensor  # (j,) float64


class _KrylovState:
    """An orthonormal basis, its projected matrix and the residual direction of the last HVP."""

    def __init__(
        self, operator: SymmetricOperator, capacity: int, generator: torch.Generator | None
    ) -> None:
        self.operator = operator
        self.generator = generator
        dtype, device = operator.dtype, operator.device
        self.basis = torch.zeros(capacity + 1, operator.dim, dtype=dtype, device=device)
        self.projected = torch.zeros(capacity + 1, capacity + 1, dtype=torch.float64)
        self.size = 0  # basis vectors whose product with A is in `projected`
        self.n_hvp = 0
        self.invariant = False  # the last residual vanished: span(basis) is invariant under A
        self.norm_estimate = 0.0  # largest |Ritz value| seen, a lower bound on ‖A‖

    def start(self, vector: torch.Tensor) -> None:
        norm = torch.linalg.vector_norm(vector)
        if not norm > 0:
            raise ValueError("start vector is zero")
        self.basis[0] = vector / norm

    def expand(self) -> None:
        """One HVP: add column ``size`` of the projected matrix and the next basis vector."""
        j = self.size
        w = self.operator.matvec(self.basis[j])  # (dim,)
        self.n_hvp += 1
        coefficients = self._orthogonalise(w, j + 1)
        self.projected[: j + 1, j] = coefficients
        beta = float(torch.linalg.vector_norm(w))
        scale = max(self.norm_estimate, float(coefficients.abs().max()))
        self.invariant = beta <= torch.finfo(self.basis.dtype).eps * scale
        self.projected[j + 1, j] = 0.0 if self.invariant else beta
        if not self.invariant:
            self.basis[j + 1] = w / beta
        self.size = j + 1

    def ritz_pairs(self) -> _RitzPairs:
        values, vectors = torch.linalg.eigh(self.projected_matrix())
        values, vectors = values.flip(0), vectors.flip(1)
        beta = float(self.projected[self.size, self.size - 1])
        residuals = beta * vectors[-1].abs()
        self.norm_estimate = max(self.norm_estimate, float(values.abs().max()))
        return _RitzPairs(values, vectors, residuals)

    def projected_matrix(self) -> torch.Tensor:
        block = self.projected[: self.size, : self.size]
        return (block + block.T) / 2  # (size, size); mirrors each coefficient across

    def ritz_vectors(self, coordinates: torch.Tensor) -> torch.Tensor:
        """Basis combinations, (count, dim), for coordinate columns (size, count)."""
        weights = coordinates.T.to(dtype=self.basis.dtype, device=self.basis.device)
        return weights @ self.basis[: self.size]

    def add_random_direction(self) -> None:
        """Continue past an invariant subspace from a random direction orthogonal to it."""
        draw = gaussian_vectors(1, self.operator.dim, self.generator, self.basis.dtype,
                                self.basis.device)[0]
        self._orthogonalise(draw, self.size)
        self.basis[self.size] = draw / torch.linalg.vector_norm(draw)
        self.invariant = False

    def restart(self, ritz: _RitzPairs, n_kept: int) -> None:
        """Keep the leading ``n_kept`` Ritz vectors and the current residual direction."""
        j = self.size
        beta = float(self.projected[j, j - 1])
        kept = self.ritz_vectors(ritz.vectors[:, :n_kept])  # (n_kept, dim)
        self.basis[n_kept] = self.basis[j]
        self.basis[:n_kept] = kept
        self.projected.zero_()
        self.projected.diagonal()[:n_kept] = ritz.values[:n_kept]
        self.projected[n_kept, :n_kept] = beta * ritz.vectors[-1, :n_kept]
        self.size = n_kept

    def _orthogonalise(self, w: torch.Tensor, count: int) -> torch.Tensor:
        """Remove from ``w`` (in place) its components on the first ``count`` basis vectors."""
        basis = self.basis[:count]  # (count, dim)
        total = torch.zeros(count, dtype=torch.float64)
        for _ in range(2):
            coefficients = basis @ w  # (count,)
            w -= coefficients @ basis
            total += coefficients.to(device="cpu", dtype=torch.float64)
        return total


def _converged(ritz: _RitzPairs, k: int, tol: float, dtype: torch.dtype) -> torch.Tensor:
    floor = _ROUNDING_FLOOR * torch.finfo(dtype).eps * float(ritz.values.abs().max())
    values, residuals = ritz.values[:k], ritz.residuals[:k]
    return residuals <= torch.clamp(tol * values.abs(), min=floor)


def _krylov_capacity(k: int, dim: int, krylov_dim: int | None) -> int:
    # Default: room for k wanted pairs plus enough fresh directions per restart cycle that the
    # restart loss stays small; measured on the benchmark CNN (docs/api.md).
    capacity = max(2 * k + 10, 20) if krylov_dim is None else int(krylov_dim)
    if capacity <= k and capacity < dim:
        raise ValueError(f"krylov_dim must exceed k={k}, got {capacity}")
    return min(capacity, dim)


def _n_kept(k: int, capacity: int) -> int:
    # Keep a few more than k so that pairs near the k-th converge too, yet leave half of the
    # basis for new directions.
    return min(k + (capacity - k) // 2, capacity - 1)


def _start_vector(
    operator: SymmetricOperator, init_vectors: torch.Tensor | None, generator: torch.Generator
) -> torch.Tensor:
    if init_vectors is None:
        return gaussian_vectors(1, operator.dim, generator, operator.dtype, operator.device)[0]
    init = init_vectors.reshape(-1, operator.dim).to(dtype=torch.float64, device="cpu")
    orthonormal, _ = torch.linalg.qr(init.T)  # (dim, r)
    return orthonormal.sum(dim=1).to(dtype=operator.dtype, device=operator.device)


def _result(
    state: _KrylovState,
    ritz: _RitzPairs,
    k: int,
    tol: float,
    n_restarts: int,
    return_eigenvectors: bool,
    capacity: int,
    seed: int,
    max_hvp: int,
) -> LanczosResult:
    count = min(k, ritz.values.numel())
    eigenvectors = state.ritz_vectors(ritz.vectors[:, :count]) if return_eigenvectors else None
    settings = {
        **_describe(state.operator),
        "algorithm": "thick_restart_lanczos",
        "k": k,
        "tol": tol,
        "krylov_dim": capacity,
        "max_hvp": max_hvp,
        "seed": seed,
    }
    return LanczosResult(
        eigenvalues=ritz.values[:count].clone(),
        residuals=ritz.residuals[:count].clone(),
        converged=_converged(ritz, k, tol, state.operator.dtype)[:count].clone(),
        eigenvectors=eigenvectors,
        n_hvp=state.n_hvp,
        n_restarts=n_restarts,
        settings=settings,
    )
