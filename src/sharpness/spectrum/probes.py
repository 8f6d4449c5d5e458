"""Seeded random probe vectors for the randomized spectrum algorithms.

Vectors are drawn in float64 on the CPU from a local ``torch.Generator`` and only then cast and
moved, so a seed gives the same vectors on every device and dtype and never touches (or depends
on) the global RNG.
"""

from __future__ import annotations

import torch


def make_generator(seed: int) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    return generator


def gaussian_vectors(
    count: int, dim: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Standard normal vectors, shape (count, dim)."""
    draws = torch.randn(count, dim, generator=generator, dtype=torch.float64)
    return draws.to(dtype=dtype, device=device)


def rademacher_vectors(
    count: int, dim: int, generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Vectors of independent ±1 entries, shape (count, dim)."""
    bits = torch.randint(0, 2, (count, dim), generator=generator, dtype=torch.int64)
    return (2 * bits - 1).to(dtype=dtype, device=device)
