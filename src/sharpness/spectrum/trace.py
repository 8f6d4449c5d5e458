"""Randomized estimators of tr(A) and ‖A‖²_F = tr(A²) from HVPs only.

Hutchinson: with Rademacher probes z, ``E[zᵀ A z] = tr(A)`` and ``E[‖A z‖²] = tr(A²)``; the
estimate is the probe mean and the standard error the sample standard deviation / sqrt(probes).

Hutch++ (Meyer, Musco, Musco, Woodruff 2021): a third of the HVPs sketch the dominant range
``Q = orth(A S)``, a third compute that part exactly (``tr(Qᵀ A Q)``, or ``‖A Q‖²_F`` for tr(A²)),
and the rest run Hutchinson on the deflated remainder ``P = I − Q Qᵀ``
(``zᵀ P A P z``, or ``‖A P z‖²``). Both pieces are unbiased for any Q drawn independently of the
remaining probes; the reported standard error is that of the Hutchinson part given Q, the only
random part once Q is fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from sharpness.spectrum.linear_operator import SymmetricOperator, _describe
from sharpness.spectrum.probes import make_generator, rademacher_vectors

Quantity = Literal["trace", "frobenius_sq"]
TraceMethod = Literal["hutchinson", "hutch++"]
# (z, A z) -> one unbiased sample of the quantity's stochastic part
_ProbeValue = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass(frozen=True)
class TraceEstimate:
    estimate: float
    stderr: float
    n_probes: int  # random probes in the Hutchinson part (Hutch++: excludes the sketch)
    n_hvp: int
    method: str  # "hutchinson" | "hutch++"
    quantity: str  # "trace" | "frobenius_sq"
    samples: torch.Tensor  # (n_probes,) float64 per-probe values of the Hutchinson part
    settings: dict[str, Any] = field(default_factory=dict)


def estimate_trace(
    operator: SymmetricOperator, *, n_hvp: int = 100, method: TraceMethod = "hutchinson",
    seed: int = 0,
) -> TraceEstimate:
    """tr(A) from ``n_hvp`` HVPs."""
    return _estimate(operator, "trace", n_hvp, method, seed)


def estimate_frobenius_sq(
    operator: SymmetricOperator, *, n_hvp: int = 100, method: TraceMethod = "hutchinson",
    seed: int = 0,
) -> TraceEstimate:
    """‖A‖²_F = tr(A²) = Σ λ_i² from ``n_hvp`` HVPs."""
    return _estimate(operator, "frobenius_sq", n_hvp, method, seed)


def _estimate(
    operator: SymmetricOperator, quantity: Quantity, n_hvp: int, method: TraceMethod, seed: int
) -> TraceEstimate:
    probe_value = _PROBE_VALUES[quantity]
    generator = make_generator(seed)
    if method == "hutchinson":
        if n_hvp < 2:
            raise ValueError("Hutchinson needs n_hvp >= 2 for a standard error")
        offset, samples = 0.0, _hutchinson_samples(operator, probe_value, n_hvp, generator, None)
    elif method == "hutch++":
        if n_hvp < 4:
            raise ValueError("Hutch++ needs n_hvp >= 4 (one sketch vector, two probes)")
        offset, samples = _hutch_plus_plus(operator, probe_value, n_hvp, generator)
    else:
        raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}")
    n_probes = samples.numel()
    settings = {**_describe(operator), "algorithm": method, "quantity": quantity,
                "n_hvp": n_hvp, "seed": seed}
    return TraceEstimate(
        estimate=offset + float(samples.mean()),
        stderr=float(samples.std(correction=1)) / math.sqrt(n_probes),
        n_probes=n_probes,
        n_hvp=n_hvp,
        method=method,
        quantity=quantity,
        samples=samples,
        settings=settings,
    )


def _hutch_plus_plus(
    operator: SymmetricOperator, probe_value: _ProbeValue, n_hvp: int, generator: torch.Generator
) -> tuple[float, torch.Tensor]:
    """(exact part on the sketched range, Hutchinson samples on its complement)."""
    n_sketch = n_hvp // 3
    sketch = rademacher_vectors(n_sketch, operator.dim, generator, operator.dtype, operator.device)
    range_rows = torch.stack([operator.matvec(s) for s in sketch])  # (n_sketch, dim)
    basis = torch.linalg.qr(range_rows.T).Q.T  # (n_sketch, dim), orthonormal rows
    exact = 0.0
    for q in basis:
        exact += probe_value(q, operator.matvec(q))
    n_probes = n_hvp - 2 * n_sketch
    samples = _hutchinson_samples(operator, probe_value, n_probes, generator, basis)
    return exact, samples


def _hutchinson_samples(
    operator: SymmetricOperator, probe_value: _ProbeValue, n_probes: int,
    generator: torch.Generator, deflate: torch.Tensor | None,
) -> torch.Tensor:
    """Per-probe samples, (n_probes,) float64; ``deflate``: (r, dim) orthonormal rows to remove."""
    probes = rademacher_vectors(n_probes, operator.dim, generator, operator.dtype, operator.device)
    samples = torch.empty(n_probes, dtype=torch.float64)
    for i, z in enumerate(probes):
        if deflate is not None:
            z = z - (deflate @ z) @ deflate
        samples[i] = probe_value(z, operator.matvec(z))
    return samples


def _trace_value(z: torch.Tensor, az: torch.Tensor) -> float:
    return float(torch.dot(z.double(), az.double()))


def _frobenius_value(z: torch.Tensor, az: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(az.double()) ** 2)


_PROBE_VALUES: dict[str, _ProbeValue] = {"trace": _trace_value, "frobenius_sq": _frobenius_value}
