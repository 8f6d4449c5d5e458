"""Eigen-SAM's refresh period p is only tested by a run that re-estimates its top eigenvector:
the default config's p refresh at least twice per run, and the ES-T3/T4 table counts the
refreshes beside each p and says when one refreshes fewer than twice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from sharpness.report.sweeps import refresh_table, refreshes, steps_alone

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("steps", "p", "count"), [
    (345, 400, 0),   # the old ES-T4 p = 400: the estimate of step 0 only
    (460, 400, 1),   # the old ES-T3 p = 400: one refresh, at step 400
    (345, 150, 2),   # estimates at steps 0, 150, 300
    (300, 150, 1),   # steps 0 and 150: step 300 is never taken (steps // p would say 2)
    (345, 25, 13),
])
def test_refreshes_count_the_estimates_after_step_0(steps, p, count):
    assert refreshes(steps, p) == count


def test_steps_alone_counts_the_partial_last_minibatch():
    digits = {"name": "digits", "label_noise": 0.25}   # 1437 training images: 23 minibatches of 64
    assert steps_alone({"dataset": digits, "epochs": 15, "batch_size": 64}) == 345
    assert steps_alone({"dataset": {"name": "digits", "n_train": 256}, "epochs": 2, "batch_size": 64}) == 8
    assert steps_alone({"dataset": {"name": "digits", "classes": 5}, "epochs": 2, "batch_size": 64}) is None


def _eigen_phases(study: dict):
    """(label, p, epochs) of every Eigen-SAM phase of every run of a switching study: a run of
    direction a->b switched at t trains a for t epochs and b (a fresh optimizer) for T − t."""
    T, optimizers = study["epochs"], study["optimizers"]
    for direction in study["switching"]["directions"]:
        for t in {0, T, *study["switching"]["switch_epochs"]}:
            for label, epochs in zip(direction.split("->"), (t, T - t)):
                settings = optimizers[label]
                if epochs and settings.get("type", label) == "eigen_sam":
                    yield label, settings.get("refresh_every", 100), epochs


def test_every_eigen_sam_p_of_the_default_config_refreshes_at_least_twice():
    studies = yaml.safe_load((ROOT / "config.yaml").read_text())["studies"]
    phases = {}
    for name, study in studies.items():
        if study["kind"] != "switching":
            continue
        for label, p, epochs in _eigen_phases(study):
            steps = steps_alone({**study, "epochs": epochs})
            assert steps is not None, f"{name}: the training-set size is unknown before the data is prepared"
            phases[f"{name}/{label}"] = (p, steps, refreshes(steps, p))
    assert phases["digits-eigen-mlp/eigen_p150"] == (150, 345, 2), "ES-T4's largest p"
    few = {run: counted for run, counted in phases.items() if counted[2] < 2}
    assert not few, f"(p, steps, refreshes) with fewer than two refreshes: {few}"


def _sweep_store(tmp_path, refresh_every: dict[str, int]) -> str:
    """Pure SAM and Eigen-SAM runs (seeds 0-2) of a 15-epoch digits study: 345 steps of batch 64."""
    labels = ["sam", *refresh_every]
    directions = [f"sgd->{label}" for label in labels]
    optimizers = {"sgd": {}, "sam": {"rho": 0.3}}
    optimizers.update({label: {"type": "eigen_sam", "rho": 0.3, "refresh_every": p} for label, p in refresh_every.items()})
    cfg = {"dataset": {"name": "digits", "label_noise": 0.25}, "model": {"name": "mlp"}, "epochs": 15, "batch_size": 64,
           "optimizers": optimizers}
    dims = ("seed", "direction", "switch_epoch", "epoch")
    err = np.full((3, len(directions), 2, 15), 0.1) + np.arange(3)[:, None, None, None] / 100
    ds = xr.Dataset({"test_error": (dims, err), "test_loss": (dims, err)},
                    coords={"seed": [0, 1, 2], "direction": directions, "switch_epoch": [0, 15], "epoch": np.arange(1, 16)},
                    attrs={"study": "sweep", "config": json.dumps(cfg)})
    path = tmp_path / "sweep.nc"
    ds.to_netcdf(path)
    return str(path)


def test_refresh_table_counts_refreshes_beside_p_and_warns_below_two(tmp_path):
    table = refresh_table([_sweep_store(tmp_path, {"eigen_p25": 25, "eigen_p150": 150, "eigen_p400": 400})], {})
    columns = list(table.columns)
    assert columns.index("refreshes [per run]") == columns.index("refresh_every [steps]") + 1
    eigen = table[table.type == "eigen_sam"]
    assert eigen["refresh_every [steps]"].tolist() == [25, 150, 400]
    assert eigen["refreshes [per run]"].tolist() == [13, 2, 0]
    assert (eigen["steps [per run]"] == 345).all()
    assert table[table.type == "sam"]["refreshes [per run]"].isna().all(), "SAM has no eigenvector to refresh"
    note = table.attrs["note"]
    assert "fewer than two refreshes" in note and "sweep p = 400 (0 in 345 steps)" in note
    assert "p = 150" not in note and "p = 25 " not in note


def test_refresh_table_is_silent_when_every_p_refreshes_twice(tmp_path):
    table = refresh_table([_sweep_store(tmp_path, {"eigen_p25": 25, "eigen_p50": 50, "eigen_p150": 150})], {})
    assert table[table.type == "eigen_sam"]["refreshes [per run]"].tolist() == [13, 6, 2]
    assert "fewer than two" not in table.attrs["note"]
