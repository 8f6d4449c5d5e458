"""Closed-form theory quantities of the papers, plotted as reference lines and checked in tests.

- :mod:`.edges`: GD edge 2/η, SAM-EOS (far-from-home), SAM-edge (sam-eos).
- :mod:`.quadratic`: normalized SAM's 2-cycle on a quadratic (ravines).
- :mod:`.bounds`: Frobenius-sharpness stability bounds for SGD and SAM (late-sam Table 2).
"""

from .bounds import (
    linear_stability_factor,
    sam_frobenius_bound,
    sam_stable,
    sgd_frobenius_bound,
    sgd_stable,
)
from .edges import (
    gd_edge,
    sam_edge_alpha,
    sam_edge_normalized,
    sam_edge_ratio,
    sam_eos_unnormalized,
    sam_eos_value,
)
from .quadratic import normalized_sam_quadratic_iterates, quadratic_two_cycle

__all__ = [
    "gd_edge",
    "linear_stability_factor",
    "normalized_sam_quadratic_iterates",
    "quadratic_two_cycle",
    "sam_edge_alpha",
    "sam_edge_normalized",
    "sam_edge_ratio",
    "sam_eos_unnormalized",
    "sam_eos_value",
    "sam_frobenius_bound",
    "sam_stable",
    "sgd_frobenius_bound",
    "sgd_stable",
]
