"""Power iteration: the baseline estimator of the dominant eigenpair, with its full history.

Power iteration converges to the eigenvalue of largest MAGNITUDE, which is the most negative one
when the Hessian's negative curvature dominates; use Lanczos (``top_eigenpairs``) for the
largest algebraic eigenvalues. Its rate is |λ₂/λ₁| per HVP, and it does not converge when
λ and −λ are both eigenvalues of the largest magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sharpness.spectrum.alignment import alignment
from sharpness.spectrum.linear_operator import SymmetricOperator, _describe
from sharpness.spectrum.probes import gaussian_vectors, make_generator


@dataclass(frozen=True)
class PowerIterationResult:
    eigenvalue: float  # Rayleigh quotient of the last iterate
    eigenvector: torch.Tensor  # (dim,) unit norm, operator dtype
    residual: float  # ‖A v − λ v‖ of the last iterate
    converged: bool
    n_hvp: int
    eigenvalue_history: list[float]  # Rayleigh quotient after each HVP
    residual_history: list[float]  # ‖A v − λ v‖ after each HVP
    alignment_history: list[float] | None  # |cos(v_t, reference)| per HVP, if a reference was given
    vector_history: torch.Tensor | None  # (n_hvp, dim) iterates, if asked
    settings: dict[str, Any] = field(default_factory=dict)


def dominant_eigenpair(
    operator: SymmetricOperator,
    *,
    n_iter: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
    init_vector: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    store_vectors: bool = False,
) -> PowerIterationResult:
    """Iterate ``v ← A v / ‖A v‖`` until ``‖A v − λ v‖ ≤ tol·|λ|`` or ``n_iter`` HVPs.

    Entry ``t`` of each history is measured at the iterate ``v_t`` whose product ``A v_t`` was
    the ``t+1``-th HVP (``v_0`` is the start). With ``reference`` (e.g. the top eigenvector
    from Lanczos) the alignment |cos(v_t, reference)| is recorded too.
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be positive, got {n_iter}")
    generator = make_generator(seed)
    v = _initial(operator, init_vector, generator)
    eigenvalues: list[float] = []
    residuals: list[float] = []
    alignments: list[float] | None = [] if reference is not None else None
    vectors: list[torch.Tensor] = []

    for _ in range(n_iter):
        av = operator.matvec(v)  # (dim,)
        rayleigh = float(torch.dot(v, av))
        residual = float(torch.linalg.vector_norm(av - rayleigh * v))
        eigenvalues.append(rayleigh)
        residuals.append(residual)
        if alignments is not None:
            alignments.append(alignment(v, reference))
        if store_vectors:
            vectors.append(v.detach().cpu().clone())
        if residual <= tol * abs(rayleigh):
            break
        v = av / torch.linalg.vector_norm(av)  # nonzero: A v = 0 passed the test above

    settings = {**_describe(operator), "algorithm": "power_iteration", "n_iter": n_iter,
                "tol": tol, "seed": seed}
    return PowerIterationResult(
        eigenvalue=eigenvalues[-1],
        eigenvector=v,
        residual=residuals[-1],
        converged=residuals[-1] <= tol * abs(eigenvalues[-1]),
        n_hvp=len(eigenvalues),
        eigenvalue_history=eigenvalues,
        residual_history=residuals,
        alignment_history=alignments,
        vector_history=torch.stack(vectors) if store_vectors else None,
        settings=settings,
    )


def _initial(
    operator: SymmetricOperator, init_vector: torch.Tensor | None, generator: torch.Generator
) -> torch.Tensor:
    if init_vector is None:
        v = gaussian_vectors(1, operator.dim, generator, operator.dtype, operator.device)[0]
    else:
        v = init_vector.reshape(-1).to(dtype=operator.dtype, device=operator.device)
    norm = torch.linalg.vector_norm(v)
    if not norm > 0:
        raise ValueError("initial vector is zero")
    return v / norm
