"""`sharpness describe` reads every kind of file the pipeline writes, and says so for others."""

from __future__ import annotations

import tarfile

import numpy as np
import torch
import xarray as xr

from sharpness.cli import main


def _store(path):
    ds = xr.Dataset({"test_error": ("epoch", np.array([0.5, 0.25]), {"units": "1", "long_name": "test error"})},
                    coords={"epoch": ("epoch", [1, 2], {"units": "1", "long_name": "epoch"})}, attrs={"git_revision": "abc"})
    ds.to_netcdf(path)


def test_tables_archives_checkpoints_and_stores(tmp_path, capsys):
    (tmp_path / "T.csv").write_text("study,switch_epoch\nalpha,1\nalpha,2\n")
    (tmp_path / "T.md").write_text("| study |\n|---|\n| alpha |\n")
    _store(tmp_path / "s.nc")
    with tarfile.open(tmp_path / "alpha.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "s.nc", arcname="alpha/alpha.nc")
    torch.save({"epoch": 3, "prefix_key": "{\"seed\": 0}", "model": {"w": torch.zeros(2, 3)}}, tmp_path / "final.pt")
    expected = {"T.csv": "2 rows × 2 columns", "T.md": "| alpha |", "s.nc": "test_error", "alpha.tar.gz": "@git_revision: abc",
                "final.pt": "prefix_key: {\"seed\": 0}"}
    for name, text in expected.items():
        assert main(["describe", str(tmp_path / name)]) == 0
        assert text in capsys.readouterr().out, name
    assert main(["describe", str(tmp_path / "final.pt")]) == 0 and "model: 1 tensors, 6 numbers" in capsys.readouterr().out


def test_another_kind_of_file_is_named_not_a_traceback(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.nc").write_text("not netcdf")
    assert main(["describe", str(tmp_path / "notes.txt")]) == 2
    assert "reads .nc, .csv, .md, .tar.gz, .pt, .json" in capsys.readouterr().err
    assert main(["describe", str(tmp_path / "broken.nc")]) == 2
    err = capsys.readouterr().err
    assert "cannot describe it" in err and "Traceback" not in err
