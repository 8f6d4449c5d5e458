"""Why ``torch.compile`` is or is not faster than eager for our SAM step, on this device.

    MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \
        .venv/bin/python benchmarks/compile_probe.py [--device cuda] [--model WRN-16-8] [--batch 128] \
        [--steps 20] [--paths channels_last+bfloat16 channels_last+bfloat16+compile ...]

For each fast path (as ``sam_throughput.py`` names them; the first is the reference) it trains
our SAM with the pipeline's own epoch (``Trainer.train_epoch``) on CIFAR-shaped synthetic
images, an epoch being ``--steps`` full batches and one smaller last batch, and prints:

- what dynamo did, from its counters: graphs compiled, graph breaks (with their reasons),
  graphs compiled after the first epoch (recompiles), and the first epoch's excess time over a
  steady one (compilation and autotuning);
- steady images/s (median of ``--repeats`` epochs) and its ratio to the reference path;
- for an eager path, the ATen ops with a kernel per step and how many are dtype casts (what
  bfloat16 autocast adds: on a GPU each is a launch, which a launch-bound model pays for);
- on CUDA, where one steady epoch's time goes (``torch.profiler``): kernel time in library
  kernels (cuDNN/cuBLAS/CUTLASS convolutions and GEMMs), in inductor's generated Triton
  kernels, and in other ATen kernels (BatchNorm, elementwise, foreach); kernels launched per
  step; and the share of wall time the device was idle (large: the step is launch-bound).

So a slower compiled path names its cause: recompiles, graph breaks, generated kernels slower
than the library ones they replace (BatchNorm statistics in Triton against cuDNN's fused
BatchNorm, say), or launches that CUDA graphs (``reduce-overhead``) would remove.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

import torch
from sam_throughput import AUGMENTATION, LR, MEAN, MODELS, RHO, SETTINGS, STD, fast_path_settings, synthetic_cifar

from sharpness.data import DatasetTensors
from sharpness.optim import Phase, make_optimizer
from sharpness.runspec import RunSpec
from sharpness.train import Trainer

# Kernel names of vendor libraries (cuDNN, cuBLAS, CUTLASS) on NVIDIA GPUs.
LIBRARY_MARKERS = ("cudnn", "cublas", "cutlass", "xmma", "gemm", "implicit_convolve", "wgrad", "dgrad", "fprop", "nhwc", "nchw")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_trainer(model: dict, device: torch.device, batch: int, steps: int, fast_path: dict | None) -> Trainer:
    n = batch * steps + batch // 2 + 1  # and a smaller last batch, as most datasets have
    x, y = synthetic_cifar(n)
    data = DatasetTensors(x, y, x[:batch], y[:batch], num_classes=10, mean=MEAN, std=STD, name="synthetic-cifar")
    run = RunSpec(seed=0, epochs=100, model=model, loss="cross_entropy", batch_size=batch,
                  lr_schedule={"name": "constant", "lr": LR}, phases=(Phase("sam", 100, {**SETTINGS, "rho": RHO}),),
                  augmentation=AUGMENTATION, device=device.type, fast_path=fast_path)
    trainer = Trainer(run, data, log=lambda message: None)
    trainer.optimizer = make_optimizer(run.phases[0], trainer.model, LR)
    return trainer


def dynamo_facts() -> dict:
    from torch._dynamo.utils import counters

    breaks = Counter({reason: count for reason, count in counters["graph_break"].items()})
    return {"graphs": int(counters["stats"]["unique_graphs"]), "breaks": breaks}


# ATen ops that launch no kernel: views, aliases and allocations.
_NO_KERNEL = {"detach", "view", "_unsafe_view", "as_strided", "t", "permute", "expand", "empty", "empty_strided",
              "empty_like", "alias", "slice", "select", "unsqueeze", "squeeze", "reshape", "transpose", "lift_fresh"}


def dispatched_ops(trainer: Trainer, epoch: int, steps: int) -> dict:
    """ATen ops with a kernel per step of one eager epoch, and how many of them are dtype casts
    (autocast's). On a GPU each is a kernel launch; the count depends on the device (torch's
    SGD loops over the parameters on a CPU and uses foreach ops on CUDA)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        ops = casts = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            if name not in _NO_KERNEL:
                Count.ops += 1
                Count.casts += name == "_to_copy"
            return func(*args, **(kwargs or {}))

    with Count():
        trainer.train_epoch(epoch)
    return {"ops_per_step": Count.ops / (steps + 1), "casts_per_step": Count.casts / (steps + 1)}


def kernel_split(trainer: Trainer, epoch: int, steps: int) -> dict:
    """Kernel time (ms per step) by origin, launches per step and the device's idle share of
    one profiled epoch (CUDA only)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        tic = time.perf_counter()
        trainer.train_epoch(epoch)
        wall = time.perf_counter() - tic
    split, launches = Counter(), 0
    for event in prof.events():
        if event.device_type != torch.autograd.DeviceType.CUDA:
            continue
        name = event.name.lower()
        origin = "triton" if name.startswith("triton") else "library" if any(m in name for m in LIBRARY_MARKERS) else "aten"
        split[origin] += event.device_time_total / 1e3
        launches += 1
    busy = sum(split.values()) / 1e3
    per_step = steps + 1
    return {"ms_per_step": {k: v / per_step for k, v in split.items()}, "launches_per_step": launches / per_step,
            "device_idle": max(0.0, 1 - busy / wall)}


def probe(label: str, model: dict, device: torch.device, batch: int, steps: int, repeats: int, path: str) -> dict:
    torch._dynamo.reset()
    from torch._dynamo.utils import counters

    counters.clear()
    trainer = make_trainer(model, device, batch, steps, fast_path_settings(path))
    epochs = iter(range(1, 1000))
    _sync(device)
    tic = time.perf_counter()
    trainer.train_epoch(next(epochs))
    first = time.perf_counter() - tic
    after_first = dynamo_facts()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        trainer.train_epoch(next(epochs))  # ends in float(): synchronised
        times.append(time.perf_counter() - tic)
    steady = statistics.median(times)
    facts = dynamo_facts()
    result = {
        "path": path, "graphs": facts["graphs"], "recompiles": facts["graphs"] - after_first["graphs"],
        "breaks": facts["breaks"], "compile_s": first - steady, "images_per_s": (batch * steps + batch // 2 + 1) / steady,
    }
    if not fast_path_settings(path) or not fast_path_settings(path)["compile"]:
        result.update(dispatched_ops(trainer, next(epochs), steps))
    if device.type == "cuda":
        try:
            result.update(kernel_split(trainer, next(epochs), steps))
        except Exception as error:  # the probe's other numbers stand without the profile
            result["profile_error"] = f"{type(error).__name__}: {error}"
    return result


def report(label: str, results: list[dict]) -> None:
    reference = results[0]["images_per_s"]
    for r in results:
        compiled = r["path"].endswith(("compile", "reduce-overhead"))
        line = (f"{label:10s} {r['path']:40s} {r['images_per_s']:9.1f} images/s ({r['images_per_s'] / reference:.2f}× "
                f"{results[0]['path']})")
        if compiled:
            line += f"; {r['graphs']} graphs, {sum(r['breaks'].values())} breaks, {r['recompiles']} recompiles after epoch 1, " \
                    f"first epoch +{r['compile_s']:.1f} s"
        print(line)
        if "ops_per_step" in r:
            print(f"{'':12s}eager: {r['ops_per_step']:.0f} ATen ops with a kernel per step, {r['casts_per_step']:.0f} of them dtype casts")
        for reason, count in r["breaks"].most_common(5):
            print(f"{'':12s}graph break ×{count}: {reason}")
        if "ms_per_step" in r:
            split = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["ms_per_step"].items()))
            print(f"{'':12s}kernel ms/step: {split}; {r['launches_per_step']:.0f} launches/step; device idle {r['device_idle']:.0%}")
        if "profile_error" in r:
            print(f"{'':12s}no kernel profile: {r['profile_error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=["WRN-16-8"], choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=None, help="default: 128 on a GPU, 16 on a CPU")
    parser.add_argument("--steps", type=int, default=None, help="full batches per epoch (default: 20 on a GPU, 3 on a CPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paths", nargs="+", default=["channels_last+bfloat16", "channels_last+bfloat16+compile",
                                                       "channels_last+bfloat16+reduce-overhead"])
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    batch, steps = args.batch or (128 if gpu else 16), args.steps or (20 if gpu else 3)
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; SAM, batch {batch}, {steps} full batches + 1 smaller per epoch, "
          f"median of {args.repeats} epochs")
    for label in args.models:
        report(label, [probe(label, MODELS[label], device, batch, steps, args.repeats, path) for path in args.paths])


if __name__ == "__main__":
    main()
