"""Benchmark of the Hessian spectrum engine against PyHessian and hessian-eigenthings.

Setting: a small CNN (3,706 parameters) on 512 images of scikit-learn's ``load_digits``
(8×8, scaled to [0, 1]), cross-entropy, briefly trained with SGD from a fixed seed, the Hessian
taken over 4 batches of 128 images in eval mode. Reference: the dense float64 Hessian's
``eigvalsh``, cross-checked against our Lanczos at tol 1e-10. Every timing below is taken in this
process, in float32 (the model's dtype), median of ``--repeats`` runs.

    MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \\
        python benchmarks/spectrum.py [--install]

``--install`` pip-installs ``pyhessian`` and ``hessian-eigenthings`` into this interpreter's
environment when missing; they are benchmark opponents only, never project dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from sklearn.datasets import load_digits
from torch import nn

from sharpness.spectrum import HessianOperator, hessian_eigenvalues

K = 5
TARGET_REL_ERROR = 1e-3
N_IMAGES = 512
BATCH_SIZE = 128
SEED = 0


def main() -> None:
    args = _parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    inputs, targets = _digits()
    model = _train(_cnn(), inputs, targets)
    batches = [(inputs[i : i + BATCH_SIZE], targets[i : i + BATCH_SIZE])
               for i in range(0, N_IMAGES, BATCH_SIZE)]
    loss_fn = nn.functional.cross_entropy
    print(f"load average at start: {_load_average()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{sum(p.numel() for p in model.parameters())} parameters, {N_IMAGES} images "
          f"in {len(batches)} batches, loss {HessianOperator(model, loss_fn, batches).loss():.4f}")

    whole = [(inputs, targets)]
    reference = _reference_top(model, loss_fn, batches)
    ratios = _hvp_cost(model, loss_fn, batches, args.repeats)
    ours = _ours(model, loss_fn, batches, whole, reference, args.repeats)
    opponents = _opponents(args.install)
    pyhessian = _pyhessian(opponents, model, loss_fn, batches, whole, reference, args.repeats)
    eigenthings = _eigenthings(opponents, model, loss_fn, batches, reference, args.repeats)
    counts = _hvp_counts(opponents, model, loss_fn, batches, reference, args.seeds)
    _summary(ratios, ours, pyhessian, eigenthings, counts)
    print(f"\nload average at end: {_load_average()}")


def _load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true",
                        help="pip-install pyhessian and hessian-eigenthings if missing")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the HVP-count comparison")
    return parser.parse_args()


# ----------------------------------------------------------------------------- problem


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    images = torch.tensor(digits.images[:N_IMAGES] / 16.0, dtype=torch.float32)  # (N, 8, 8)
    return images.unsqueeze(1), torch.tensor(digits.target[:N_IMAGES])  # (N, 1, 8, 8), (N,)


def _cnn() -> nn.Module:
    # 80 + 2,336 + 1,290 = 3,706 parameters.
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (8, 4, 4)
        nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, 2, 2)
        nn.Flatten(), nn.Linear(128, 10),
    )


def _train(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> nn.Module:
    """A few epochs of SGD: far enough from init that the Hessian has structure."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(15):
        for idx in torch.randperm(N_IMAGES, generator=order).split(32):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs[idx]), targets[idx]).backward()
            optimizer.step()
    model.eval()
    for p in model.parameters():
        p.grad = None
    return model


# ----------------------------------------------------------------------------- reference


def _reference_top(model: nn.Module, loss_fn: Callable, batches: list) -> torch.Tensor:
    """Top-K of the dense float64 Hessian, checked against our Lanczos at tol 1e-10."""
    start = time.perf_counter()
    dense = _dense_hessian(model, loss_fn, batches)
    eigenvalues = torch.linalg.eigvalsh(dense).flip(0)  # descending
    dense_s = time.perf_counter() - start
    ours = hessian_eigenvalues(model, loss_fn, batches, k=K, seed=SEED, tol=1e-10,
                               dtype=torch.float64, max_hvp=5000)
    gap = float(((ours.eigenvalues - eigenvalues[:K]).abs() / eigenvalues[:K].abs()).max())
    print(f"\nreference top-{K} (dense float64 eigvalsh, {dense_s:.1f} s): "
          + ", ".join(f"{x:.6f}" for x in eigenvalues[:K]))
    print(f"  most negative eigenvalue {float(eigenvalues[-1]):.6f}; "
          f"our Lanczos (float64, tol 1e-10): {ours.n_hvp} HVPs, all converged "
          f"{bool(ours.converged.all())}, max relative gap to dense {gap:.1e}")
    return eigenvalues[:K]


def _dense_hessian(model: nn.Module, loss_fn: Callable, batches: list) -> torch.Tensor:
    """Dense Hessian of the all-sample mean loss: one double backward per column through one
    retained float64 graph of all 512 images (batched double backward is slower here)."""
    params = {n: p.detach().double().requires_grad_(True) for n, p in model.named_parameters()}
    inputs = torch.cat([x for x, _ in batches]).double()
    targets = torch.cat([y for _, y in batches])
    output = torch.func.functional_call(model, params, (inputs,))
    grads = torch.autograd.grad(loss_fn(output, targets), list(params.values()), create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])  # (dim,)
    dim = flat.numel()
    dense = torch.empty(dim, dim, dtype=torch.float64)
    unit = torch.zeros(dim, dtype=torch.float64)
    for column in range(dim):
        unit[column] = 1.0
        rows = torch.autograd.grad(flat, list(params.values()), grad_outputs=unit,
                                   retain_graph=True)
        dense[column] = torch.cat([r.reshape(-1) for r in rows])
        unit[column] = 0.0
    return (dense + dense.T) / 2


def _relative_error(found: torch.Tensor, reference: torch.Tensor) -> float:
    """Max relative error of the K found values against the reference, both sorted descending."""
    found = torch.as_tensor(found, dtype=torch.float64).sort(descending=True).values
    return float(((found[:K] - reference).abs() / reference.abs()).max())


def _timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ----------------------------------------------------------------------------- ours


def _hvp_cost(model: nn.Module, loss_fn: Callable, batches: list, repeats: int) -> dict:
    """Seconds per HVP of each method and per full-data gradient (forward + backward)."""
    weights = [x.shape[0] / N_IMAGES for x, _ in batches]

    def gradient() -> None:
        model.zero_grad(set_to_none=True)
        for w, (x, y) in zip(weights, batches):
            (w * loss_fn(model(x), y)).backward()

    costs = {"gradient": _per_call(gradient, repeats)}
    v = torch.randn(sum(p.numel() for p in model.parameters()),
                    generator=torch.Generator().manual_seed(SEED))
    for label, method, reuse in _METHODS:
        operator = HessianOperator(model, loss_fn, batches, method=method, reuse_graph=reuse)
        costs[label] = _per_call(lambda: operator.matvec(v), repeats)
    for p in model.parameters():
        p.grad = None
    print("\ncost per call (median of repeats x 20 calls):")
    for label, seconds in costs.items():
        print(f"  {label:<28} {seconds * 1e3:7.2f} ms   {seconds / costs['gradient']:5.2f}x gradient")
    return costs


_METHODS = [
    ("double_backward+reuse_graph", "double_backward", True),
    ("double_backward", "double_backward", False),
    ("forward_over_reverse", "forward_over_reverse", False),
]


def _per_call(run: Callable[[], Any], repeats: int, calls: int = 20) -> float:
    run()  # warm-up (builds the retained graph where there is one)

    def block() -> None:
        for _ in range(calls):
            run()

    seconds, _ = _timed(block, repeats)
    return seconds / calls


def _ours(model: nn.Module, loss_fn: Callable, batches: list, whole: list,
          reference: torch.Tensor, repeats: int) -> list[dict]:
    print(f"\nours: thick-restart Lanczos, k={K}, tol 1e-3 (relative residual ≤ 1e-3, which "
          "bounds the relative eigenvalue error by 1e-3); wall time includes building the "
          "operator:")
    runs = [(f"{label}, 4x128", method, reuse, batches) for label, method, reuse in _METHODS]
    runs.append(("double_backward+reuse_graph, 1x512", "double_backward", True, whole))
    rows = []
    for label, method, reuse, data in runs:

        def run() -> Any:
            operator = HessianOperator(model, loss_fn, data, method=method, reuse_graph=reuse)
            return hessian_eigenvalues(operator, k=K, seed=SEED, tol=TARGET_REL_ERROR)

        seconds, result = _timed(run, repeats)
        row = {"label": f"ours {label}", "seconds": seconds, "n_hvp": result.n_hvp,
               "rel_error": _relative_error(result.eigenvalues, reference), "algebraic": True,
               "converged": bool(result.converged.all())}
        rows.append(row)
        print(f"  {label:<36} {seconds:6.3f} s  {result.n_hvp:4d} HVPs  max rel err "
              f"{row['rel_error']:.1e}  converged {row['converged']}  max residual/θ "
              f"{float((result.residuals / result.eigenvalues.abs()).max()):.1e}")
    return rows


# ----------------------------------------------------------------------------- opponents


def _opponents(install: bool) -> dict[str, Any]:
    found = {}
    for module, package in (("pyhessian", "pyhessian"), ("hessian_eigenthings",
                                                         "hessian-eigenthings")):
        try:
            found[module] = importlib.import_module(module)
        except ImportError:
            if not install:
                print(f"\n{package} is not installed: skipped (rerun with --install)")
                continue
            subprocess.run([sys.executable, "-m", "pip", "install", package], check=True)
            found[module] = importlib.import_module(module)
    return found


def _pyhessian(opponents: dict, model: nn.Module, loss_fn: Callable, batches: list,
               whole: list, reference: torch.Tensor, repeats: int) -> list[dict]:
    """PyHessian's deflated power iteration: the loosest tol giving all top-K within 1e-3.

    Two data modes: ``dataloader=`` the 4 batches (rebuilds the gradient graph at every HVP,
    its mode for more than one batch) and ``data=`` all 512 images as one batch (keeps the
    graph). Its random start comes from the global RNG, seeded before each run.
    """
    if "pyhessian" not in opponents:
        return []
    module = importlib.import_module("pyhessian.hessian")
    calls = _count_pyhessian_hvps(module)
    modes = {"dataloader 4x128": {"dataloader": batches}, "data 1x512": {"data": whole[0]}}
    print("\nPyHessian 0.1 (deflated power iteration, maxIter 1000, tol = relative change of "
          "the estimate):")
    rows = []
    for mode, data in modes.items():
        for tol in (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6):

            def run() -> list[float]:
                torch.manual_seed(SEED)
                solver = module.hessian(model, loss_fn, cuda=False, **data)
                return solver.eigenvalues(maxIter=1000, tol=tol, top_n=K)[0]

            calls[0] = 0
            seconds, values = _timed(run, repeats)
            n_hvp = calls[0] // repeats
            error = _relative_error(torch.tensor(values), reference)
            ordered = list(values) == sorted(values, reverse=True)
            print(f"  {mode:<17} tol {tol:.0e}: {seconds:7.3f} s  {n_hvp:5d} HVPs  max rel err "
                  f"{error:.1e}  returned sorted descending: {ordered}")
            if error <= TARGET_REL_ERROR:
                rows.append({"label": f"PyHessian {mode}, tol {tol:.0e}", "seconds": seconds,
                             "n_hvp": n_hvp, "rel_error": error, "algebraic": False})
                break
    for p in model.parameters():
        p.grad = None  # PyHessian leaves graph-carrying .grad behind
    return rows


def _count_pyhessian_hvps(module: Any) -> list[int]:
    """Wrap PyHessian's two HVP entry points with a shared call counter."""
    counter = [0]
    single, full = module.hessian_vector_product, module.hessian.dataloader_hv_product

    def counted_single(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return single(*args, **kwargs)

    def counted_full(self: Any, v: Any) -> Any:
        counter[0] += 1
        return full(self, v)

    module.hessian_vector_product = counted_single
    module.hessian.dataloader_hv_product = counted_full
    return counter


def _eigenthings_lanczos(he: Any, model: nn.Module, loss_fn: Callable, batches: list,
                         max_iter: int, seed: int) -> Any:
    operator = he.HessianOperator(model, batches, he.supervised_loss(loss_fn))
    return he.lanczos(operator, k=K, max_iter=max_iter, which="LA", seed=seed,
                      reorthogonalize=True)


def _eigenthings_budget(he: Any, model: nn.Module, loss_fn: Callable, batches: list,
                        reference: torch.Tensor, seed: int) -> int:
    """Smallest max_iter (= HVPs; it has no stopping rule) with all top-K within 1e-3."""
    for max_iter in range(K, 201):
        result = _eigenthings_lanczos(he, model, loss_fn, batches, max_iter, seed)
        if _relative_error(result.eigenvalues, reference) <= TARGET_REL_ERROR:
            return max_iter
    raise RuntimeError("hessian-eigenthings did not reach 1e-3 within 200 iterations")


def _eigenthings(opponents: dict, model: nn.Module, loss_fn: Callable, batches: list,
                 reference: torch.Tensor, repeats: int) -> list[dict]:
    """hessian-eigenthings' one-pass Lanczos at the smallest max_iter reaching 1e-3."""
    if "hessian_eigenthings" not in opponents:
        return []
    he = opponents["hessian_eigenthings"]
    default = _eigenthings_lanczos(he, model, loss_fn, batches, 2 * K, SEED)
    max_iter = _eigenthings_budget(he, model, loss_fn, batches, reference, SEED)
    seconds, result = _timed(
        lambda: _eigenthings_lanczos(he, model, loss_fn, batches, max_iter, SEED), repeats)
    error = _relative_error(result.eigenvalues, reference)
    print(f"\nhessian-eigenthings {he.__version__} (lanczos, which='LA', full reorth, 4x128):")
    print(f"  default max_iter=2k={2 * K}: max rel err "
          f"{_relative_error(default.eigenvalues, reference):.1e}")
    print(f"  smallest max_iter within {TARGET_REL_ERROR:.0e} (found against the reference): "
          f"{max_iter} HVPs, {seconds:.3f} s, max rel err {error:.1e}")
    return [{"label": f"hessian-eigenthings 4x128, max_iter={max_iter}", "seconds": seconds,
             "n_hvp": max_iter, "rel_error": error, "algebraic": True}]


def _ours_budget(operator: HessianOperator, reference: torch.Tensor, seed: int) -> int:
    """Smallest HVP budget at which our Ritz values are within 1e-3 (ignoring residuals)."""
    for budget in range(K, 201):
        result = hessian_eigenvalues(operator, k=K, seed=seed, tol=1e-12, max_hvp=budget)
        if _relative_error(result.eigenvalues, reference) <= TARGET_REL_ERROR:
            return budget
    raise RuntimeError("no budget up to 200 reached 1e-3")


def _hvp_counts(opponents: dict, model: nn.Module, loss_fn: Callable, batches: list,
                reference: torch.Tensor, n_seeds: int) -> dict[str, list[int]]:
    """HVPs to top-K within 1e-3 over several seeds: ours with its stopping rule, and the
    oracle budgets (smallest that would have sufficed, known only from the reference)."""
    operator = HessianOperator(model, loss_fn, batches)
    seeds = range(n_seeds)
    counts = {
        "ours, stopped by tol 1e-3": [
            hessian_eigenvalues(operator, k=K, seed=s, tol=TARGET_REL_ERROR).n_hvp for s in seeds],
        "ours, oracle budget": [_ours_budget(operator, reference, s) for s in seeds],
    }
    if "hessian_eigenthings" in opponents:
        he = opponents["hessian_eigenthings"]
        counts["hessian-eigenthings, oracle budget"] = [
            _eigenthings_budget(he, model, loss_fn, batches, reference, s) for s in seeds]
    print(f"\nHVPs to all top-{K} within {TARGET_REL_ERROR:.0e}, seeds 0..{n_seeds - 1}:")
    for label, values in counts.items():
        print(f"  {label:<36} {values}  mean {statistics.mean(values):.1f}")
    return counts


# ----------------------------------------------------------------------------- summary


def _summary(costs: dict, ours: list[dict], pyhessian: list[dict], eigenthings: list[dict],
             counts: dict[str, list[int]]) -> None:
    print(f"\n| solver (top-{K} within {TARGET_REL_ERROR:.0e} relative) | wall s | HVPs "
          "| max rel err | largest algebraic, sorted, with residuals |")
    print("|---|---:|---:|---:|---|")
    for row in ours + pyhessian + eigenthings:
        extras = "yes" if row["label"].startswith("ours") else (
            "algebraic, sorted; no residuals" if row["algebraic"] else
            "no (largest magnitude, unsorted)")
        print(f"| {row['label']} | {row['seconds']:.3f} | {row['n_hvp']} "
              f"| {row['rel_error']:.1e} | {extras} |")
    print("\nHVP / gradient: " + ", ".join(
        f"{label} {costs[label] / costs['gradient']:.2f}x" for label, _, _ in _METHODS))
    same_data = {"dataloader 4x128": ours[0], "data 1x512": ours[-1]}
    for row in pyhessian:
        mine = next(v for key, v in same_data.items() if key in row["label"])
        print(f"speed-up vs {row['label']}: {row['seconds'] / mine['seconds']:.1f}x "
              f"({mine['label']}; HVPs {mine['n_hvp']} vs {row['n_hvp']})")
    for row in eigenthings:
        print(f"speed-up vs {row['label']}: {row['seconds'] / ours[0]['seconds']:.1f}x "
              f"({ours[0]['label']}; HVPs {ours[0]['n_hvp']} vs {row['n_hvp']})")
    means = {label: statistics.mean(values) for label, values in counts.items()}
    print("mean HVPs over seeds: " + ", ".join(f"{k} {v:.1f}" for k, v in means.items()))


if __name__ == "__main__":
    main()
