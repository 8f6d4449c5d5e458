"""Toy problems with known answers, simulated exactly: the models behind the papers' mechanisms.

Each module simulates one problem from plain settings and returns arrays on named dims
(``{name: (dims, array)}`` plus coordinates); :mod:`sharpness.store.toy` lays them out as a
labelled store with CF attributes. ``PROBLEMS`` maps a config's ``problem`` to its simulator.
"""

from . import quadratic_regression, ravine, sam_quadratic, tanh_valley

PROBLEMS = {
    "quadratic_regression": quadratic_regression.simulate,
    "sam_quadratic": sam_quadratic.simulate,
    "ravine": ravine.simulate,
    "tanh_valley": tanh_valley.simulate,
}

__all__ = ["PROBLEMS"]
