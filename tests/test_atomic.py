"""Publishing files atomically: all or nothing, no temporary file left, the user's umask."""

from __future__ import annotations

import os
import stat

import pytest
import xarray as xr

from sharpness.atomic import atomic_path, atomic_write
from sharpness.store import write_atomic
from sharpness.train.checkpoint import save_atomic


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
    previous = os.umask(0o022)
    yield set_mask
    os.umask(previous)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_published_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    with atomic_write(tmp_path / "a.txt", "w") as f:
        f.write("x")
    save_atomic({"w": 1}, tmp_path / "b.pt")
    write_atomic(xr.Dataset({"v": ("x", [1.0])}), tmp_path / "c.nc")
    for name in ("a.txt", "b.pt", "c.nc"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "store.nc"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["store.nc"]


def test_a_temporary_left_by_a_killed_write_is_removed_by_the_next_write(tmp_path):
    """SIGKILL mid-write runs no cleanup; the next write of the same file removes the leftover."""
    target = tmp_path / "epoch3.pt"
    (tmp_path / ".epoch3.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / ".other.pt.x.tmp").write_bytes(b"another file's write in progress")
    save_atomic({"epoch": 3}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.x.tmp", "epoch3.pt"]
