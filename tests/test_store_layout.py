"""Stores carry their study and layout version; a report refuses another study's or an older one."""

from __future__ import annotations

import pytest
import xarray as xr

from sharpness.report import figure_data, write_table
from sharpness.store import STORE_LAYOUT, StoreError, check_study_store, provenance_attrs, write_atomic


def _store(path, **attrs):
    ds = xr.Dataset({"v": ("x", [1.0], {"units": "1", "long_name": "a value"})}, attrs=attrs)
    write_atomic(ds, path)
    return path


def test_a_store_of_another_study_or_layout_is_refused(tmp_path):
    good = _store(tmp_path / "alpha.nc", **provenance_attrs({}, study="alpha"))
    check_study_store(good, "alpha", STORE_LAYOUT)
    with pytest.raises(StoreError, match="not of 'alpha'"):
        check_study_store(_store(tmp_path / "a2.nc", **provenance_attrs({}, study="beta")), "alpha", STORE_LAYOUT)
    old = _store(tmp_path / "alpha_old.nc", study="alpha")  # written before layouts were recorded
    with pytest.raises(StoreError, match="layout None"):
        check_study_store(old, "alpha", STORE_LAYOUT)
    other = _store(tmp_path / "alpha_v1.nc", **{**provenance_attrs({}, study="alpha"), "store_layout": "1"})
    with pytest.raises(StoreError, match="layout '1'"):
        check_study_store(other, "alpha", STORE_LAYOUT)


def test_report_jobs_check_their_stores_first(tmp_path):
    copied = _store(tmp_path / "alpha.nc", **provenance_attrs({}, study="beta"))  # beta's store copied over alpha's
    with pytest.raises(StoreError, match="not of 'alpha'"):
        write_table("ES-T1", [str(copied)], {}, str(tmp_path / "t.csv"), str(tmp_path / "t.md"))
    with pytest.raises(StoreError, match="not of 'alpha'"):
        figure_data("LS-F3", [str(copied)], {})
    assert not list(tmp_path.glob("t.*")), "nothing written from a refused store"
