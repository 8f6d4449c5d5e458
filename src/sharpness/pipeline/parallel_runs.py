"""Several runs of one job at once, each in its own Python process sharing the job's device.

Small models leave a GPU mostly idle (a ResNet-20 step is launch-bound), so a study may train up
to ``parallel_runs`` of a seed's runs together: the prefixes first, then the branches that start
from their checkpoints. Each run is a separate process (``python -m
sharpness.pipeline.parallel_runs RUN.json``) that calls the same :func:`~sharpness.train.job.train_job`
as a sequential job, with the same state folder and files, so the results are those of separate
runs (on a CPU bit-identical to a sequential job with the same threads per run). Processes, not
threads or forks: each has its own CUDA context and allocator, and none inherits a parent's
OpenMP or CUDA state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..runspec import RunSpec
from ..train.job import train_job
from .seed_plan import PlannedRun


def train_in_waves(runs: list[PlannedRun], data_path: str, parallel: int, threads: int, log) -> None:
    """Train ``runs`` ``parallel`` at a time: those that start from nothing, then the rest."""
    prefixes = [r for r in runs if r.start_from is None]
    branches = [r for r in runs if r.start_from is not None]
    for wave in (prefixes, branches):
        _run_wave(wave, data_path, parallel, threads, log)


def _run_wave(wave: list[PlannedRun], data_path: str, parallel: int, threads: int, log) -> None:
    pending, running, failed = list(wave), [], []
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": _package_root() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory(prefix="parallel-runs-") as scratch:
        while pending or running:
            while pending and len(running) < parallel:
                run = pending.pop(0)
                order = Path(scratch, f"{len(wave) - len(pending)}.json")
                order.write_text(json.dumps({"run": run.__dict__, "data": data_path}))
                output = open(order.with_suffix(".log"), "w")  # a file, not a pipe: a pipe fills and blocks the run
                log(f"started {_name(run)} ({len(running) + 1} of at most {parallel} at once)")
                process = subprocess.Popen([sys.executable, "-m", __name__, str(order)], env=env, stdout=output,
                                           stderr=subprocess.STDOUT, text=True)
                running.append((run, process, output))
            time.sleep(0.2)
            for item in [item for item in running if item[1].poll() is not None]:
                running.remove(item)
                run, process, output = item
                output.close()
                for line in Path(output.name).read_text().splitlines():
                    log(f"  [{_name(run)}] {line}")
                if process.returncode != 0:
                    failed.append(run.final)
    if failed:
        raise RuntimeError(f"{len(failed)} parallel run(s) failed (their log lines are above): {', '.join(failed)}")


def _name(run: PlannedRun) -> str:
    """The run's folder inside its seed's folder (``sam``, ``sgd-sam/t6``)."""
    parts = Path(run.run_netcdf).parent.parts
    seed = max(i for i, part in enumerate(parts) if part.startswith("seed"))
    return "/".join(parts[seed + 1:])


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def main(order_path: str) -> None:
    order = json.loads(Path(order_path).read_text())
    run = PlannedRun(**{**order["run"], "keep": {int(k): v for k, v in order["run"]["keep"].items()}})
    spec = RunSpec.from_dict(run.spec)
    train_job(spec, order["data"], run.state_dir, run.final, run.run_netcdf, keep=run.keep,
              start_from=run.start_from, config_slice=spec.to_dict(), log=lambda message: print(message, flush=True))


if __name__ == "__main__":
    main(sys.argv[1])
