"""CF ``units`` and ``long_name`` on every variable and coordinate of a file the pipeline writes.

Attributes set where a variable is made always win. Coordinates whose name means the same thing
in every file (``seed``, ``step``, ``schedule``, ``study``, …) get theirs from
:data:`COORDINATES` when they arrive without them (a coordinate picked from a store, or one a
``concat``/``expand_dims`` made), and a label (a string variable) is dimensionless, units
``"1"``. :func:`described` is applied to every file :func:`~sharpness.store.netcdf.write_atomic`
writes, so a file without them is refused before anything is written.
"""

from __future__ import annotations

import os

import xarray as xr

REQUIRED = ("units", "long_name")

# name → (units, long name) of coordinates that mean the same in every file that has them.
COORDINATES = {
    "seed": ("1", "training seed"),
    "step": ("1", "updates taken (0: initialisation)"),
    "epoch": ("1", "epoch (metrics after it)"),
    "lr": ("1", "base learning rate eta"),
    "rho": ("1", "SAM radius rho (0: the base optimizer)"),
    "width": ("1", "model width"),
    "schedule": ("1", "training schedule"),
    "study": ("1", "study name"),
    "direction": ("1", "switching direction first->second"),
    "switch_epoch": ("1", "epoch t of the switch to the second optimizer"),
    "optimizer": ("1", "optimizer"),
    "split": ("1", "data the loss is taken on (train or test)"),
    "trial": ("1", "trial (minibatch order of the run)"),
    "draw": ("1", "random direction drawn"),
    "eig_index": ("1", "rank of the eigenvalue (0 = largest)"),
    "run": ("1", "run folder inside the seed's folder"),
    "checkpoint_epoch": ("1", "epoch after which the checkpoint was taken"),
    "hvp_step": ("1", "Hessian-vector products of the power iteration"),
}


class MissingAttributesError(ValueError):
    """A dataset with a variable or coordinate lacking CF ``units`` or ``long_name``."""


def with_defaults(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` (``ds`` itself untouched) with each missing attribute of a well-known
    coordinate taken from :data:`COORDINATES`, and units ``"1"`` on every label lacking units."""
    out = ds.copy(deep=False)  # new variables with their own attribute dicts, the data shared
    for name, var in out.variables.items():
        if name in out.coords and name in COORDINATES:
            for attr, value in zip(REQUIRED, COORDINATES[name]):
                var.attrs.setdefault(attr, value)
        if var.dtype.kind in "OUS":
            var.attrs.setdefault("units", "1")
    return out


def missing_attributes(ds: xr.Dataset) -> dict[str, list[str]]:
    """Variable or coordinate name → the required attributes it lacks (absent or empty)."""
    lacking = {str(name): [attr for attr in REQUIRED if var.attrs.get(attr) in (None, "")] for name, var in ds.variables.items()}
    return {name: attrs for name, attrs in lacking.items() if attrs}


def described(ds: xr.Dataset, where: str | os.PathLike = "dataset") -> xr.Dataset:
    """``ds`` with the defaults filled in; raises naming everything still without both."""
    out = with_defaults(ds)
    lacking = missing_attributes(out)
    if lacking:
        names = "; ".join(f"{'coordinate' if name in out.coords else 'variable'} {name} lacks {' and '.join(attrs)}"
                          for name, attrs in lacking.items())
        raise MissingAttributesError(f"{where}: every variable and coordinate needs CF units and long_name: {names}. "
                                     "Set them where the variable is made (or, for a coordinate that means the same "
                                     "in every file, in sharpness.store.cf.COORDINATES)")
    return out
