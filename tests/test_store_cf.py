"""Every file the pipeline writes carries CF units and long_name on every variable and coordinate:
explicit attributes win, well-known coordinates and labels get defaults, the rest is refused."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sharpness.config import validate_config
from sharpness.store import read, write_atomic
from sharpness.store.cf import COORDINATES, MissingAttributesError, described
from sharpness.store.toy import toy_dataset
from sharpness.toys import PROBLEMS

DESCRIBED = {"units": "1", "long_name": "test error fraction"}


def _dataset(**coords) -> xr.Dataset:
    return xr.Dataset({"test_error": (("seed", "schedule"), np.zeros((2, 2)), DESCRIBED)},
                      coords={"seed": [0, 1], "schedule": ["sgd", "sam"], **coords})


def test_well_known_coordinates_and_labels_get_defaults_and_explicit_attributes_win(tmp_path):
    ds = _dataset(split=("split", ["train"], {"long_name": "data the loss is on, as this file says"}),
                  grid=("grid", [0.5], {"units": "1", "long_name": "a figure's own grid"})).expand_dims(study=["alpha"])
    write_atomic(ds, tmp_path / "f.nc")
    back = read(tmp_path / "f.nc")
    assert back.seed.attrs == {"units": "1", "long_name": COORDINATES["seed"][1]}
    assert back.study.attrs == {"units": "1", "long_name": "study name"}
    assert back.schedule.attrs["long_name"] == "training schedule"
    assert back.split.attrs == {"units": "1", "long_name": "data the loss is on, as this file says"}, "a label's units are 1"
    assert back.grid.attrs == {"units": "1", "long_name": "a figure's own grid"}
    assert ds.seed.attrs == {} and "units" not in ds.split.attrs, "the caller's dataset is not changed"


@pytest.mark.parametrize("bare, message", [
    ({"grid_w1": [0.0, 1.0]}, "coordinate grid_w1 lacks units and long_name"),
    ({"alpha": ("alpha", [0.1], {"units": "1"})}, "coordinate alpha lacks long_name"),
    ({"end": ("end", ["left"], {"long_name": ""})}, "coordinate end lacks long_name"),
])
def test_a_coordinate_without_both_is_refused_and_nothing_is_written(tmp_path, bare, message):
    ds = _dataset(**bare)
    with pytest.raises(MissingAttributesError, match=message):
        write_atomic(ds, tmp_path / "f.nc")
    assert list(tmp_path.iterdir()) == [], "neither the file nor a temporary"


def test_a_variable_without_units_is_refused_naming_it():
    ds = _dataset()
    ds["n_seeds"] = xr.DataArray(2, attrs={"long_name": "seeds"})
    ds["lambda_max"] = ("seed", [1.0, 2.0])
    with pytest.raises(MissingAttributesError, match=r"f\.nc: .*variable n_seeds lacks units; variable lambda_max lacks units and long_name"):
        described(ds, "f.nc")


# A few steps of each toy problem, the schema's defaults for the rest.
TOY_OPTIONS = {"quadratic_regression": {"steps": 20, "record_every": 10}, "sam_quadratic": {"steps": 4},
               "ravine": {"steps": 4}, "tanh_valley": {"steps": 20, "switch_step": 10}}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_every_coordinate_a_toy_simulator_returns_is_described(problem):
    study = validate_config({"studies": {"t": {"kind": "toy", "problem": problem, "seeds": [0, 1], "options": TOY_OPTIONS[problem]}}})["studies"]["t"]
    data, coords = PROBLEMS[problem](study["options"], study["seeds"])
    ds = described(toy_dataset(problem, data, coords, {}), problem)
    assert ds.step.attrs["long_name"] == "iteration (0: the start)"
