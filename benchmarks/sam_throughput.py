"""Training throughput of our SAM and SGD against a plain reference SAM loop, in one process.

    MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \
        .venv/bin/python benchmarks/sam_throughput.py [--device cuda] [--batch 128] [--steps 20] \
        [--paths plain channels_last channels_last+bfloat16] [--table benchmarks/throughput/<gpu>.json]

Both sides train the same model on the same CIFAR-shaped synthetic images (uint8, 3×32×32,
random flip and 4-pixel crop) with SGD momentum 0.9, weight decay 5e-4 and ρ = 0.05:
- **reference**: the loop most SAM code is written as: a ``DataLoader`` with worker processes
  over per-image transforms, float32, and a SAM whose perturbation and restore loop over the
  parameters in Python (one norm per parameter, then one global norm), on ``torch.optim.SGD``
  with ``foreach=False``;
- **ours**: the pipeline's own training epoch (``sharpness.train.Trainer.train_epoch``): the
  images kept on the device as uint8, augmented a batch at a time and normalised there, and
  ``sharpness.optim.SAM`` (foreach ops, one global norm); a timed block is one epoch of
  ``--steps`` steps, with the loss and gradient-norm sums the trainer keeps.
It prints images/s of each, ours SAM / reference SAM (goals: ≥ 2.5× on a GPU, ≥ 1.3× on a
CPU) and our SAM step time / our SGD step time (the floor is 2: two forward-backward passes).
Each number is the median over ``--repeats`` timed blocks of ``--steps`` steps, after warm-up.
``--paths`` times ours on each fast path (a study's ``fast_path``: ``channels_last``, ``bfloat16``
autocast, ``compile``, joined by +). ``--table`` merges our SGD and SAM images/s and peak memory
per (model, path, batch) into the JSON throughput table that ``sharpness plan --gpu`` prices
configs with (:mod:`sharpness.plan`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from sharpness.data import DatasetTensors
from sharpness.models import build_model
from sharpness.optim import Phase, make_optimizer
from sharpness.plan import fast_path_label
from sharpness.runspec import RunSpec
from sharpness.train import Trainer

MODELS = {"ResNet-20": dict(name="resnet20"), "ResNet-18": dict(name="resnet18"), "WRN-16-8": dict(name="wrn", depth=16, widen_factor=8)}
# How a model reads in the throughput table: as sharpness.plan labels a study's model.
TABLE_NAMES = {"ResNet-20": "resnet20", "ResNet-18": "resnet18", "WRN-16-8": "wrn-16-8"}
AUGMENTATION = {"flip": True, "crop_padding": 4}
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
SETTINGS = {"momentum": 0.9, "weight_decay": 5e-4}
RHO, LR = 0.05, 0.1


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def synthetic_cifar(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen), torch.randint(0, 10, (n,), generator=gen)


# -- the reference loop ------------------------------------------------------------------------
class PerImageCifar(Dataset):
    """Per-image transforms in the workers, as torchvision's CIFAR pipelines do them."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y
        self.mean, self.std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        img = self.x[i].float() / 255
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        padded = torch.nn.functional.pad(img, (4, 4, 4, 4))
        top, left = torch.randint(0, 9, (2,)).tolist()
        return (padded[:, top : top + 32, left : left + 32] - self.mean) / self.std, self.y[i]


class ReferenceSAM:
    """SAM with per-parameter Python loops (the common implementation's structure)."""

    def __init__(self, params, rho: float, **sgd):
        self.params = [p for p in params]
        self.rho = rho
        self.base = torch.optim.SGD(self.params, foreach=False, **sgd)
        self.e_w: dict[torch.Tensor, torch.Tensor] = {}

    @torch.no_grad()
    def first_step(self) -> None:
        norm = torch.norm(torch.stack([p.grad.norm(2) for p in self.params if p.grad is not None]), 2)
        scale = self.rho / (norm + 1e-12)
        for p in self.params:
            if p.grad is None:
                continue
            e_w = p.grad * scale
            p.add_(e_w)
            self.e_w[p] = e_w
            p.grad = None

    @torch.no_grad()
    def second_step(self) -> None:
        for p in self.params:
            if p in self.e_w:
                p.sub_(self.e_w.pop(p))
        self.base.step()
        for p in self.params:
            p.grad = None


def reference_sam_images_per_s(spec, x, y, device, batch: int, steps: int, repeats: int, workers: int) -> float:
    torch.manual_seed(0)
    model = build_model(spec, (3, 32, 32), 10).to(device).train()
    opt = ReferenceSAM(model.parameters(), RHO, lr=LR, **SETTINGS)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(PerImageCifar(x, y), batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0, pin_memory=device.type == "cuda")
    batches = iter(())

    def step() -> None:
        nonlocal batches
        try:
            xb, yb = next(batches)
        except StopIteration:
            batches = iter(loader)
            xb, yb = next(batches)
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        loss_fn(model(xb), yb).backward()
        opt.first_step()
        loss_fn(model(xb), yb).backward()  # BatchNorm statistics updated twice: as the common code does
        opt.second_step()

    return batch / _median_step_time(step, device, steps, repeats)


# -- ours --------------------------------------------------------------------------------------
def fast_path_settings(path: str) -> dict | None:
    """``plain``, or fast-path options joined by +: channels_last, bfloat16, and compile or
    reduce-overhead (compiled and replayed as CUDA graphs): as :func:`fast_path_label` reads them."""
    if path == "plain":
        return None
    parts = path.split("+")
    unknown = set(parts) - {"channels_last", "bfloat16", "compile", "reduce-overhead"}
    if unknown:
        raise SystemExit(f"unknown fast-path option(s) {sorted(unknown)} in {path!r}")
    compile_option = "reduce-overhead" if "reduce-overhead" in parts else "compile" in parts
    return {"channels_last": "channels_last" in parts, "autocast": "bfloat16" if "bfloat16" in parts else "none",
            "compile": compile_option}


def our_images_per_s(spec, x, y, device, batch: int, steps: int, repeats: int, optimizer: str, fast_path: dict | None) -> float:
    n = batch * steps  # one epoch is one timed block
    data = DatasetTensors(x[:n], y[:n], x[:batch], y[:batch], num_classes=10, mean=MEAN, std=STD, name="synthetic-cifar")
    settings = {**SETTINGS, **({"rho": RHO} if optimizer == "sam" else {})}
    epochs = 2 + repeats  # warm-up and timed blocks
    run = RunSpec(seed=0, epochs=epochs, model=spec, loss="cross_entropy", batch_size=batch,
                  lr_schedule={"name": "constant", "lr": LR}, phases=(Phase(optimizer, epochs, settings),),
                  augmentation=AUGMENTATION, device=device.type, fast_path=fast_path)
    trainer = Trainer(run, data, log=lambda message: None)
    trainer.optimizer = make_optimizer(run.phases[0], trainer.model, LR)
    epoch = 0

    def one_epoch() -> None:
        nonlocal epoch
        epoch += 1
        trainer.train_epoch(epoch)  # ends in float(): synchronised

    for _ in range(2):  # warm-up: allocator, kernels
        one_epoch()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        one_epoch()
        times.append((time.perf_counter() - tic) / steps)
    return batch / statistics.median(times)


def _median_step_time(step, device, steps: int, repeats: int) -> float:
    for _ in range(3):  # warm-up: allocator, kernels, workers
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        tic = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        times.append((time.perf_counter() - tic) / steps)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=None, help="default: 128 on a GPU, 16 on a CPU (CI-sized)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block (default: 20 on a GPU, 4 on a CPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference loop")
    parser.add_argument("--channels-last", action="store_true", help="shorthand for --paths channels_last")
    parser.add_argument("--paths", nargs="+", default=None, help="our fast paths to time (default: plain)")
    parser.add_argument("--table", default=None, help="merge our rows into this JSON throughput table")
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    batch = args.batch or (128 if gpu else 16)
    steps = args.steps or (20 if gpu else 4)
    paths = args.paths or (["channels_last"] if args.channels_last else ["plain"])
    x, y = synthetic_cifar(batch * (3 + steps * args.repeats))  # the reference: warm-up and blocks in one pass
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; batch {batch}, {steps} steps × {args.repeats} repeats; torch {torch.__version__}")
    goal = 2.5 if gpu else 1.3
    rows = []
    for label in args.models:
        spec = MODELS[label]
        ref = reference_sam_images_per_s(spec, x, y, device, batch, steps, args.repeats, args.workers)
        print(f"{label:10s} reference SAM {ref:8.1f} images/s")
        for path in paths:
            fast_path = fast_path_settings(path)
            measured = {}
            for optimizer in ("sam", "sgd"):
                if gpu:
                    torch.cuda.reset_peak_memory_stats(device)
                measured[optimizer] = our_images_per_s(spec, x, y, device, batch, steps, args.repeats, optimizer, fast_path)
                peak = torch.cuda.max_memory_allocated(device) / 2**20 if gpu else None
                rows.append({"model": TABLE_NAMES[label], "path": fast_path_label({"fast_path": fast_path}), "batch": batch,
                             "optimizer": optimizer, "images_per_s": round(measured[optimizer], 1), "peak_memory_mb": peak})
            sam, sgd = measured["sam"], measured["sgd"]
            print(f"{'':10s} {path:28s} our SAM {sam:8.1f}, our SGD {sgd:8.1f} images/s; SAM / reference "
                  f"{sam / ref:.2f}× (goal ≥ {goal}×); SAM step / SGD step {sgd / sam:.2f} (floor 2.0, goal ≤ 2.05)")
            if args.table:  # after every path: a run stopped by a time limit keeps what it measured
                write_table(Path(args.table), name, rows)


def write_table(path: Path, device: str, rows: list[dict]) -> None:
    """Merge ``rows`` into the table at ``path`` (a row with the same key is replaced)."""
    table = json.loads(path.read_text()) if path.is_file() else {"device": device, "torch": torch.__version__, "rows": []}
    if table["device"] != device:
        raise SystemExit(f"{path} holds {table['device']}, not {device}: write another table")
    key = lambda row: (row["model"], row["path"], row["batch"], row["optimizer"])  # noqa: E731
    merged = {key(r): r for r in table["rows"]} | {key(r): r for r in rows}
    table.update(torch=torch.__version__, rows=sorted(merged.values(), key=key))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {len(rows)} rows to {path}")


if __name__ == "__main__":
    main()
