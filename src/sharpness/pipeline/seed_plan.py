"""The loop of a per-seed training job: each run of the seed's plan, in order, with its files.

A plan (``SwitchingStudy.seed_plan``, ``DynamicsStudy.seed_plan``) lists every run of one seed,
the runs that hand checkpoints on first (``keep``: positions to save under ``<run>/ckpt``),
then the runs that start from one (``start_from``, relative to the seed's folder).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PlannedRun:
    spec: dict
    state_dir: str
    final: str
    run_netcdf: str
    keep: dict[int, str]
    start_from: str | None


def planned_runs(smk, log, unit: str) -> Iterator[PlannedRun]:
    """The runs of ``smk.params.plan``; ``unit`` names checkpoint files (``epoch``/``step``)."""
    seed_dir, state_root = Path(smk.params.seed_dir), Path(smk.params.state_dir)
    plan = json.loads(smk.params.plan)
    for i, item in enumerate(plan, 1):
        name, folder = item["run"], seed_dir / item["run"]
        log(f"[{i}/{len(plan)}] {name}")
        keep = {}
        if "keep" in item:
            (folder / "ckpt").mkdir(parents=True, exist_ok=True)
            keep = {t: str(folder / "ckpt" / f"{unit}{t}.pt") for t in item["keep"]}
        start_from = str(seed_dir / item["start_from"]) if "start_from" in item else None
        yield PlannedRun(item["spec"], str(state_root / name), str(folder / "final.pt"), str(folder / "run.nc"), keep, start_from)
