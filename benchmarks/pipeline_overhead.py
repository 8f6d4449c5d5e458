"""How much of a Snakemake run's wall time is useful work: the pipeline's overhead ratio.

    .venv/bin/python benchmarks/pipeline_overhead.py [--log .snakemake/log/<run>.log] [--cores 2]

Reads one run's Snakemake log (default: the newest) for its wall time and jobs, and every
rule log under ``logs/`` for the ``step timing`` lines that ``sharpness.pipeline.run_step``
writes (the time spent importing the step's modules, and the step's own work after that).
Prints wall time, the summed work, the summed job time, and

    overhead ratio = wall time / (summed work / cores)

1.0 would mean every core did useful work all the time; per-job start-up (the Python process,
Snakemake's script wrapper, ``import torch``) and idle cores push it up. Only step timings
written while the run ran are counted, so logs appended to by earlier runs do not mix in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
TIMING = re.compile(r"step timing at (\S+): imports ([\d.]+) s, work ([\d.]+) s")


def run_window(log: Path) -> tuple[dt.datetime, dt.datetime, int, float]:
    """(start, end, jobs finished, summed job seconds) of one Snakemake run log."""
    stamps, started, current, job_seconds, finished = [], {}, None, 0.0, 0
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            current = dt.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            stamps.append(current)
        elif (m := re.match(r"^\s+jobid: (\d+)", line)) and current:
            started[m.group(1)] = current
        elif (m := re.match(r"^Finished jobid: (\d+)", line)) and m.group(1) in started:
            job_seconds += (current - started[m.group(1)]).total_seconds()
            finished += 1
    if not stamps:
        raise SystemExit(f"{log}: no timestamps (was it a dry run?)")
    return stamps[0], stamps[-1], finished, job_seconds


def step_timings(logs: Path, start: dt.datetime, end: dt.datetime) -> list[tuple[float, float]]:
    found = []
    for path in logs.rglob("*.log"):
        for m in TIMING.finditer(path.read_text(errors="replace")):
            if start <= dt.datetime.fromisoformat(m.group(1)) <= end + dt.timedelta(seconds=1):
                found.append((float(m.group(2)), float(m.group(3))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, help="a .snakemake/log/*.snakemake.log (default: the newest)")
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="the rules' log folder")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    runs = sorted(Path(".snakemake/log").glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    if args.log is None and not runs:
        raise SystemExit("no Snakemake run log in .snakemake/log: run the workflow first (make run)")
    log = args.log or runs[-1]
    start, end, jobs, job_seconds = run_window(log)
    timings = step_timings(args.logs, start, end)
    if not timings:
        raise SystemExit(f"no step timings in {args.logs}/ written during {log.name}: was it a run of this workflow?")
    wall = (end - start).total_seconds()
    imports = sum(i for i, _ in timings)
    work = sum(w for _, w in timings)
    print(f"run {log.name}: {jobs} jobs, wall {wall:.0f} s on {args.cores} cores")
    print(f"summed job time {job_seconds:.0f} s (Snakemake's timestamps, 1 s resolution); "
          f"steps timed: {len(timings)}, their imports {imports:.0f} s, their work {work:.0f} s")
    # Shell jobs (checksums) and the `all` target time no step: their seconds are about zero.
    print(f"start-up per timed job: {(job_seconds - work) / len(timings):.2f} s (job time minus work)")
    print(f"overhead ratio = wall / (work / cores) = {wall / (work / args.cores):.2f} (goal ≤ 1.3)")


if __name__ == "__main__":
    main()
