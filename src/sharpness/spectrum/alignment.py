"""How well a direction (a gradient, a SAM perturbation, an iterate) lines up with an eigenvector.

Both measures are invariant to the sign and the scale of either argument, since an eigenvector's
sign is arbitrary. Inputs are flat vectors or sequences of parameter-shaped tensors (flattened
in order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Vector = torch.Tensor | Sequence[torch.Tensor]


def alignment(vector: Vector, eigenvector: Vector) -> float:
    """|cos(vector, eigenvector)| in [0, 1]."""
    a, b = _flat(vector), _flat(eigenvector)
    if a.shape != b.shape:
        raise ValueError(f"length mismatch: {a.numel()} vs {b.numel()}")
    norms = torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b)
    if not norms > 0:
        raise ValueError("alignment of a zero vector is undefined")
    return min(1.0, abs(float(torch.dot(a, b) / norms)))


def align_eigen_sam(eps: Vector, v1: Vector) -> float:
    """Eigen-SAM's alignment ``Align(ε, v1) = 1 − min_{s ∈ {±1}} ‖ε/‖ε‖ − s·v1‖`` (eigen-sam §4.3)
    for the (normalised) top eigenvector; the sign s makes ±v1 equivalent.

    For unit ``u = ε/‖ε‖`` and unit ``v1``, ``‖u − s·v1‖ = sqrt(2 − 2s·cos)``, smallest for
    ``s = sign(cos)``, so the measure is ``1 − sqrt(2 − 2|cos|)``: 1 when ε is parallel to v1,
    0 at |cos| = ½ and 1 − √2 ≈ −0.414 when ε is orthogonal to v1. (It is not the |cos| of
    :func:`alignment`; sam-eos reports that one.)
    """
    cosine = alignment(eps, v1)
    return 1.0 - math.sqrt(max(0.0, 2.0 - 2.0 * cosine))


def _flat(vector: Vector) -> torch.Tensor:
    if isinstance(vector, torch.Tensor):
        flat = vector.reshape(-1)
    else:
        flat = torch.cat([t.reshape(-1) for t in vector])
    return flat.detach().to(dtype=torch.float64, device="cpu")
