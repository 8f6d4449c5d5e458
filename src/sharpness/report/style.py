"""One look for every figure: seaborn theme, sizes, and saving in each requested format."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window (clusters and CI have no display)
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..atomic import atomic_path  # noqa: E402

# Deterministic files: no creation dates in PDF/SVG metadata.
_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}


def apply_theme(style: dict) -> None:
    sns.set_theme(context=style.get("context", "paper"), style="whitegrid", palette="colorblind")


def save(fig, paths: list[str], dpi: int) -> None:
    """Save ``fig`` to every path (format from the suffix), each atomically."""
    for path in paths:
        ext = Path(path).suffix.lstrip(".")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata=_METADATA.get(ext, {}))
    plt.close(fig)
