"""Normalized SAM on a convex quadratic: ravines Fig. 1 (BR-F1) and its 2-cycle (ravines Thm. 2).

L(w) = ½ Σ λᵢ wᵢ²; the iterates come from :func:`sharpness.theory.normalized_sam_quadratic_iterates`
and converge to w = ±ηρλ₁/(2 − ηλ₁)·e₁ (:func:`sharpness.theory.quadratic_two_cycle`).
"""

from __future__ import annotations

import numpy as np

from .. import theory


def simulate(options: dict, seeds: list[int]) -> tuple[dict, dict]:
    """The first ``steps`` iterates from ``start`` (deterministic: the seeds are not used)."""
    o = options
    path = theory.normalized_sam_quadratic_iterates(o["eigenvalues"], o["start"], o["lr"], o["rho"], o["steps"])
    lam = np.asarray(o["eigenvalues"], float)
    data = {
        "w1": (("step",), path[:, 0]),
        "w2": (("step",), path[:, 1]),
        "loss": (("step",), 0.5 * (lam[None, :2] * path[:, :2] ** 2).sum(1)),
        "cycle_amplitude": ((), float(theory.quadratic_two_cycle(o["lr"], o["rho"], lam[0]))),
    }
    return data, {"step": np.arange(o["steps"] + 1)}
