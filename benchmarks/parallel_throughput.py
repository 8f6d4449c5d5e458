"""Aggregate training throughput of k SAM runs sharing one device (a study's parallel_runs: k).

    MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \\
        python benchmarks/parallel_throughput.py [--device cuda] [--model ResNet-20] [--k 1 4 8]

For each k it starts k processes at once, each timing our SAM epoch on the model as
``benchmarks/sam_throughput.py`` does (its ``our_images_per_s``, same data and settings), and
prints the sum of their images/s and its ratio to k = 1 measured in the same invocation.
Processes overlap only roughly (each times its own blocks after its own warm-up), so the
aggregate is an estimate of what a job with ``parallel_runs: k`` gets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def one(device: str, model: str, batch: int, steps: int, repeats: int, path: str) -> float:
    sys.path.insert(0, str(HERE))
    from sam_throughput import MODELS, fast_path_settings, our_images_per_s, synthetic_cifar

    x, y = synthetic_cifar(batch * (3 + steps * repeats))
    return our_images_per_s(MODELS[model], x, y, torch.device(device), batch, steps, repeats, "sam", fast_path_settings(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default="ResNet-20")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--path", default="channels_last", help="fast path of every run (plain, channels_last, …)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    gpu = args.device == "cuda"
    batch, steps = args.batch or (128 if gpu else 16), args.steps or (20 if gpu else 4)
    if args.worker:
        print(json.dumps(one(args.device, args.model, batch, steps, args.repeats, args.path)))
        return
    name = torch.cuda.get_device_name() if gpu else "CPU"
    print(f"device: {name}; {args.model}, SAM, batch {batch}, path {args.path}; torch {torch.__version__}")
    base = None
    for k in args.k:
        command = [sys.executable, __file__, "--worker", "--device", args.device, "--model", args.model, "--batch", str(batch),
                   "--steps", str(steps), "--repeats", str(args.repeats), "--path", args.path]
        workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(k)]
        rates = [float(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
        total = sum(rates)
        if k == 1:
            base = total
        ratio = f"{total / base:.2f}× one run" if base else ""
        print(f"k = {k}: aggregate {total:9.1f} images/s ({', '.join(f'{r:.0f}' for r in rates)}) {ratio}")


if __name__ == "__main__":
    main()
