"""Figures computed from the theory alone (no study): sam-eos Fig. 1 (LB-F1)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory


def sam_edge_ratio_data(stores: list[str], options: dict) -> xr.Dataset:
    """SAM-edge / (2/η) = (α/2)(√(1 + 4/α) − 1) as a function of α = η‖g‖/(2ρ), on a log grid,
    with its two asymptotes: √α for small α, 1 for large α (sam-eos Section 4)."""
    alpha = np.logspace(np.log10(options["alpha_min"]), np.log10(options["alpha_max"]), 400)
    coords = {"alpha": ("alpha", alpha, {"units": "1", "long_name": "alpha = eta ||g|| / (2 rho)"})}
    return xr.Dataset(
        {
            "ratio": ("alpha", theory.sam_edge_ratio(alpha), {"units": "1", "long_name": "SAM-edge / (2/eta)"}),
            "small_alpha": ("alpha", np.sqrt(alpha), {"units": "1", "long_name": "asymptote sqrt(alpha) as alpha -> 0"}),
        },
        coords=coords,
    )


def draw_sam_edge_ratio(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ds.alpha, ds.ratio, label=r"$\frac{\alpha}{2}\left(\sqrt{1+4/\alpha}-1\right)$")
    ax.plot(ds.alpha, ds.small_alpha, color="0.5", ls=":", label=r"$\sqrt{\alpha}$ (small $\alpha$)")
    ax.axhline(1, color="k", ls="--", lw=1, label="1 (GD's edge)")
    ax.set(xscale="log", ylim=(0, 1.1), xlabel=r"$\alpha = \eta\|g\|/(2\rho)$", ylabel="SAM-edge / (2/η)",
           title="always below 2/η; far below when ‖g‖ ≪ 2ρ/η")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


FIGURES = {"LB-F1": (sam_edge_ratio_data, draw_sam_edge_ratio)}
TABLES: dict = {}
