"""Prepared dataset files: atomic writes, the sha256 sidecar, and refusal of corrupted files."""

import json

import pytest
import torch

from sharpness.data import (
    DatasetIntegrityError,
    file_sha256,
    load_dataset,
    load_prepared,
    prepare_dataset,
    sidecar_path,
)

SUBSET = dict(classes=4, n_train=120, n_test=40)


@pytest.fixture
def prepared(tmp_path):
    out = tmp_path / "prepared" / "digits4.pt"
    record = prepare_dataset("digits", None, out, **SUBSET)
    return out, record


def test_prepare_writes_file_and_sidecar_with_sha256(prepared):
    out, record = prepared
    assert sorted(p.name for p in out.parent.iterdir()) == ["digits4.pt", "digits4.pt.json"], "no temp files left"
    sidecar = json.loads(sidecar_path(out).read_text())
    assert sidecar == json.loads(json.dumps(record))
    assert record["sha256"] == file_sha256(out) and record["bytes"] == out.stat().st_size
    assert record["options"] == SUBSET and record["shapes"]["x_train"] == [120, 1, 8, 8]
    assert set(record["environment"]) >= {"torch", "numpy"}


def test_prepared_file_is_plain_tensors_and_metadata(prepared):
    out, _ = prepared
    payload = torch.load(out, weights_only=True)
    assert payload["x_train"].dtype == torch.uint8 and payload["name"] == "digits"
    assert payload["meta"]["subset"]["n_train"] == 120


def test_round_trip_equals_direct_load(prepared):
    out, record = prepared
    direct = load_dataset("digits", **SUBSET)
    loaded = load_prepared(out)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(loaded, key), getattr(direct, key))
    assert (loaded.num_classes, loaded.mean, loaded.std, loaded.name) == (4, direct.mean, direct.std, "digits")
    assert loaded.meta["sha256"] == record["sha256"]
    assert {k: v for k, v in loaded.meta.items() if k != "sha256"} == direct.meta


def test_same_variant_gives_identical_bytes(prepared, tmp_path):
    out, record = prepared
    again = prepare_dataset("digits", None, tmp_path / "elsewhere" / "other-name.pt", **SUBSET)
    assert again["sha256"] == record["sha256"]


def test_corrupted_prepared_file_is_detected(prepared):
    out, record = prepared
    payload = bytearray(out.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    out.write_bytes(bytes(payload))
    with pytest.raises(DatasetIntegrityError, match=record["sha256"]):
        load_prepared(out)


def test_missing_sidecar_is_an_error_unless_verification_is_off(prepared):
    out, record = prepared
    sidecar_path(out).unlink()
    with pytest.raises(FileNotFoundError, match="verify=False"):
        load_prepared(out)
    assert load_prepared(out, verify=False).meta["sha256"] == record["sha256"]


def test_failed_write_leaves_previous_file_intact(prepared, monkeypatch):
    out, record = prepared

    def broken_save(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        prepare_dataset("digits", None, out, classes=2)
    assert file_sha256(out) == record["sha256"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["digits4.pt", "digits4.pt.json"]
    load_prepared(out)


def test_other_torch_files_are_not_taken_for_datasets(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a prepared dataset"):
        load_prepared(path, verify=False)
