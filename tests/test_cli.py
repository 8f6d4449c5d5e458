"""The `sharpness` command: validate, describe, figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import xarray as xr

from sharpness.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_validate_accepts_the_default_config_and_names_the_bad_key(tmp_path, capsys):
    assert main(["validate", str(ROOT / "config.yaml")]) == 0
    assert "digits-noise" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config.yaml").read_text().replace("epochs: 30", "epochs: 30.5", 1))
    assert main(["validate", str(bad)]) == 1
    assert "studies.digits-noise.epochs" in capsys.readouterr().err


def test_describe_prints_variables_with_units(tmp_path, capsys):
    ds = xr.Dataset({"test_error": ("epoch", [0.5, 0.25])}, coords={"epoch": [1, 2]}, attrs={"study": "s"})
    ds.test_error.attrs.update(units="1", long_name="test error fraction")
    ds.to_netcdf(tmp_path / "s.nc")
    assert main(["describe", str(tmp_path / "s.nc")]) == 0
    out = capsys.readouterr().out
    assert "epoch = 2" in out and "[1] test error fraction" in out and "@study: s" in out


def test_figures_lists_the_catalogue_and_the_console_script_runs(capsys):
    assert main(["figures", "--kind", "toy"]) == 0
    out = capsys.readouterr().out
    assert "BR-F1" in out and "LS-F3" not in out
    script = Path(sys.executable).with_name("sharpness")
    result = subprocess.run([str(script), "figures"], capture_output=True, text=True)
    assert result.returncode == 0 and "ES-T1" in result.stdout
