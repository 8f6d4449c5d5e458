"""Cost of a SAM step relative to an SGD step, in one process (the floor is 2: two passes).

    MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \
        .venv/bin/python benchmarks/train_step.py [--device cuda] [--repeats 5]

Times the training loop's own step function (``sharpness.train.loop._train_step``) on the default
study's CNN with digits-sized batches, and on ResNet-20 with CIFAR-sized random batches. Prints
per-step times (median over repeats of a timed block) and the SAM/SGD ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sharpness.models import build_model
from sharpness.optim import Phase, make_optimizer
from sharpness.train.loop import _train_step
from sharpness.train.losses import make_loss

CASES = {
    "default CNN, 32×1×8×8": (dict(name="cnn", channels=[8, 16]), (1, 8, 8), 32),
    "ResNet-20, 128×3×32×32": (dict(name="resnet20"), (3, 32, 32), 128),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(model_spec, shape, batch, optimizer: str, device, steps: int, repeats: int) -> float:
    torch.manual_seed(0)
    model = build_model(model_spec, shape, 10).to(device)
    settings = {"momentum": 0.9, "weight_decay": 5e-4, **({"rho": 0.05} if optimizer == "sam" else {})}
    opt = make_optimizer(Phase(optimizer, 1, settings), model.parameters(), lr=0.05)
    loss_fn = make_loss("cross_entropy", 10)
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    for _ in range(3):  # warm-up: allocator, kernels
        _train_step(model, opt, loss_fn, x, y)
    times = []
    for _ in range(repeats):
        _sync(device)
        tic = time.perf_counter()
        for _ in range(steps):
            _train_step(model, opt, loss_fn, x, y)
        _sync(device)
        times.append((time.perf_counter() - tic) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for name, (spec, shape, batch) in CASES.items():
        steps = 50 if spec["name"] == "cnn" else (20 if device.type == "cuda" else 3)
        sgd = time_steps(spec, shape, batch, "sgd", device, steps, args.repeats)
        sam = time_steps(spec, shape, batch, "sam", device, steps, args.repeats)
        print(f"{name:28s} SGD {1e3 * sgd:8.2f} ms/step   SAM {1e3 * sam:8.2f} ms/step   SAM/SGD {sam / sgd:5.2f}")


if __name__ == "__main__":
    main()
