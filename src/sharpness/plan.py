"""What a config costs before it runs: jobs, epochs, SGD-epoch equivalents and GPU-hours.

Training dominates a switching study's cost, and prefix sharing is most of its saving: every
optimizer trains once for T epochs and each switched run only its T − t epochs after the switch.
One SGD epoch is the unit: a SAM-like epoch costs 2 (two forward-backward passes), an
adversarial-training epoch 1 + its PGD steps. Hours come from a **throughput table** that
``benchmarks/sam_throughput.py --table`` writes on the GPU it runs on (images/s of our SGD and
SAM per model, path and batch, with peak memory): a config is priced only on a GPU that was
measured, never on a guess. Hessian measurements, dynamics studies (priced in steps) and the
report are left out of the hours and say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import Study
from .config.base import TRAIN_SIZES

SAM_LIKE = ("sam", "usam", "asam", "eigen_sam")


@dataclass
class StudyCost:
    name: str
    kind: str
    jobs: int
    epochs: int  # epochs trained with prefix sharing (steps for dynamics studies)
    naive_epochs: int  # every schedule trained from scratch
    sgd_equivalents: float  # epochs weighted by optimizer cost (SGD = 1)
    images_per_epoch: int | None
    model: str = ""
    hours: float | None = None  # GPU-hours on the table's GPU; None: not priced
    peak_memory_mb: float | None = None
    note: str = ""
    unit: str = "epochs"


def epoch_cost(settings: dict, label: str) -> float:
    """SGD-epoch equivalents of one epoch of the optimizer ``label`` with ``settings``."""
    kind = settings.get("type", label)
    if kind in SAM_LIKE:
        return 2.0
    if kind == "at":
        return 1.0 + settings.get("steps", 10)
    return 1.0


def switching_cost(study: Study) -> StudyCost:
    optimizers, T, n = study.cfg["optimizers"], study.epochs, len(study.seeds)
    prefixes, branches = study.prefix_optimizers, study.branch_runs()  # branches: (first, second, t)
    per_seed = T * len(prefixes) + sum(T - t for _, _, t in branches)
    weighted = sum(T * epoch_cost(optimizers[opt], opt) for opt in prefixes)
    weighted += sum((T - t) * epoch_cost(optimizers[second], second) for _, second, t in branches)
    spectra = len(study.spectrum_files())
    if study.per_seed_jobs:  # one job per seed trains, one job measures all
        jobs = n + 1 + (spectra > 0)
    else:
        jobs = n * (len(prefixes) + len(branches)) + n + spectra
    jobs += 2  # collect and archive
    dataset = study.cfg["dataset"]
    size = dataset.get("n_train") or TRAIN_SIZES.get(dataset["name"])
    return StudyCost(study.name, "switching", jobs, n * per_seed, study.epochs_naive(), n * weighted, size,
                     model=_model_label(study.cfg["model"]))


def other_cost(study: Study) -> StudyCost:
    """Dynamics, toy and landscape studies: runs and steps, not priced in GPU-hours."""
    if study.kind == "dynamics":
        n, T = len(study.seeds), study.steps
        trained = sum(T - (run.switch_step or 0) for run in study.runs.values())
        return StudyCost(study.name, "dynamics", n, n * trained, n * len(study.runs) * T, 0.0, None, unit="steps",
                         note="steps with the Hessian tracked inline: not priced")
    return StudyCost(study.name, study.kind, 1, 0, 0, 0.0, None, note="no training: not priced")


def _model_label(model: dict) -> str:
    if model["name"] == "wrn":
        return f"wrn-{model.get('depth', 28)}-{model.get('widen_factor', 10)}"
    return model["name"]


@dataclass
class ThroughputTable:
    """Images/s and peak memory per (model, path, batch, optimizer) on one named device."""

    device: str
    torch: str
    rows: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> "ThroughputTable":
        with open(path) as f:
            data = json.load(f)
        return cls(data["device"], data["torch"], data["rows"])

    def fastest(self, model: str, batch: int, optimizer: str) -> dict | None:
        """The measured row of (model, batch, optimizer) with the most images/s, on any path."""
        rows = [r for r in self.rows if (r["model"], r["batch"], r["optimizer"]) == (model, batch, optimizer)]
        return max(rows, key=lambda r: r["images_per_s"], default=None)

    def lookup(self, model: str, path: str, batch: int, optimizer: str) -> dict | None:
        for row in self.rows:
            if (row["model"], row["path"], row["batch"], row["optimizer"]) == (model, path, batch, optimizer):
                return row
        return None


def fast_path_label(cfg: dict) -> str:
    """How a study's fast-path settings read in a throughput table."""
    fast = cfg.get("fast_path") or {}
    parts = [name for name in ("channels_last", "compile") if fast.get(name)]
    if fast.get("compile") == "reduce-overhead":  # compiled and replayed as CUDA graphs
        parts[-1] = "reduce-overhead"
    if fast.get("autocast") not in (None, "none"):
        parts.insert(1 if parts[:1] == ["channels_last"] else 0, str(fast["autocast"]))
    return "+".join(parts) or "plain"


def price(cost: StudyCost, study: Study, table: ThroughputTable) -> None:
    """Fill ``cost.hours`` and ``peak_memory_mb`` from ``table``, or say why not."""
    if cost.kind != "switching" or cost.images_per_epoch is None:
        return
    key = (cost.model, fast_path_label(study.cfg), study.cfg["batch_size"])
    sgd = table.lookup(*key, "sgd")
    sam = table.lookup(*key, "sam")
    if sgd is None:
        cost.note = f"{table.device} has no throughput for {key[0]}, path {key[1]}, batch {key[2]}"
        return
    cost.hours = cost.sgd_equivalents * cost.images_per_epoch / sgd["images_per_s"] / 3600
    cost.peak_memory_mb = (sam or sgd).get("peak_memory_mb")
    faster = table.fastest(key[0], key[2], "sam")
    if sam is not None and faster is not None and faster["images_per_s"] > sam["images_per_s"]:
        # bfloat16 or compile can lose on a model the GPU runs launch-bound: say so, from the table.
        cost.note = (f"fast_path {faster['path']} measured {faster['images_per_s'] / sam['images_per_s']:.2f}× faster "
                     f"for SAM than {key[1]} here")


def plan(configs: dict[str, dict], table: ThroughputTable | None = None) -> list[StudyCost]:
    """The cost of every study of the validated ``configs`` (path → config), each study once."""
    costs, seen = [], set()
    for config in configs.values():
        for name, cfg in config["studies"].items():
            if name in seen:
                continue
            seen.add(name)
            study = Study(name, cfg)
            cost = switching_cost(study) if study.kind == "switching" else other_cost(study)
            if table is not None:
                price(cost, study, table)
            costs.append(cost)
    return costs


def render(costs: list[StudyCost], table: ThroughputTable | None) -> str:
    where = f"{table.device} (torch {table.torch})" if table else "no GPU named (--gpu TABLE to price)"
    lines = [f"GPU-hours on: {where}; SGD-epoch equivalents count SAM-like epochs twice",
             f"{'study':30s} {'kind':10s} {'jobs':>5s} {'trained':>10s} {'naive':>10s} {'SGD-eq.':>9s} {'GPU-h':>8s} {'peak MB':>8s}"]
    for c in costs:
        hours = f"{c.hours:8.2f}" if c.hours is not None else f"{'-':>8s}"
        memory = f"{c.peak_memory_mb:8.0f}" if c.peak_memory_mb is not None else f"{'-':>8s}"
        lines.append(f"{c.name:30s} {c.kind:10s} {c.jobs:5d} {c.epochs:>10,d} {c.naive_epochs:>10,d} {c.sgd_equivalents:>9,.0f} "
                     f"{hours} {memory}  {c.unit}{'; ' + c.note if c.note else ''}")
    switching = [c for c in costs if c.kind == "switching"]
    priced = [c.hours for c in switching if c.hours is not None]
    total_hours = f"{sum(priced):.1f} GPU-h for {len(priced)} of {len(switching)} switching studies" if table else "not priced"
    lines.append(f"total: {sum(c.jobs for c in costs)} jobs, {sum(c.epochs for c in switching):,} epochs trained "
                 f"(naive {sum(c.naive_epochs for c in switching):,}), {sum(c.sgd_equivalents for c in switching):,.0f} "
                 f"SGD-epoch equivalents; {total_hours}")
    return "\n".join(lines)
