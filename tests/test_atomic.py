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
    write_atomic(xr.Dataset({"v": ("x", [1.0], {"units": "1", "long_name": "v"})}), tmp_path / "c.nc")
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


WRITERS = {
    "checkpoint": ("from sharpness.train.checkpoint import save_atomic as w; import torch; big = {'w': torch.randn(4_000_000)}",
                   "w(big, TARGET)"),
    "store": ("from sharpness.store import write_atomic as w; import xarray as xr, numpy as np; "
              "big = xr.Dataset({'v': ('x', np.random.rand(4_000_000), {'units': '1', 'long_name': 'v'})})", "w(big, TARGET)"),
    "archive": ("from sharpness.store.archive import write_archive as w; import numpy as np, pathlib; "
                "pathlib.Path(TARGET + '.src').write_bytes(np.random.bytes(20_000_000))", "w(TARGET, TARGET + '.src', {}, 's')"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_write_killed_midway_leaves_the_old_file_and_its_leftover_goes_next_time(tmp_path, writer):
    """SIGKILL a process while it writes: the target is the old, complete file (never a part
    of the new one), and the next write removes the temporary the killed one left."""
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "target.bin"
    setup, write = WRITERS[writer]
    code = f"TARGET = {str(target)!r}\n{setup}\n{write}\nprint('first', flush=True)\nwhile True:\n    {write}\n"
    for _ in range(5):  # a kill may land between two writes, after a rename: then try again
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "first"
        first = target.read_bytes()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".target.bin.*.tmp")):
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the writer never had a write in progress within 60 s")
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        leftovers = list(tmp_path.glob(".target.bin.*.tmp"))
        if leftovers:
            break
    else:
        pytest.fail("five kills all landed between two writes: no write was killed midway")
    content = target.read_bytes()
    assert content == first, "the target is the whole earlier file (every write here writes the same bytes), never a torn one"
    if writer == "checkpoint":
        from sharpness.train.checkpoint import load

        load(target)  # intact: its checksum verifies
    elif writer == "store":
        xr.open_dataset(target).close()
    exec(compile(f"TARGET = {str(target)!r}\n{setup}\n{write}", "<rewrite>", "exec"), {})
    assert not list(tmp_path.glob(".target.bin.*.tmp")), f"leftover {leftovers} removed by the next write"
