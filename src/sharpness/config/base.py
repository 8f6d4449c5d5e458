"""What every study plan has, whatever its kind; each kind subclasses :class:`Study`.

A study plan turns one validated ``studies.<name>`` entry into what the workflow needs: the runs
and their specs, the file names, cross-field checks. Plans are plain Python (no torch), so the
Snakefile builds them while it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..runspec import OPTIMIZER_TYPES


class ConfigError(ValueError):
    """A configuration value or key that the pipeline cannot run with."""


# kind name -> Study subclass, filled by ``class X(Study, kind="…")``.
KINDS: dict[str, type["Study"]] = {}


@dataclass(frozen=True)
class Study:
    """``Study(name, cfg)`` builds the plan of the study's kind (``cfg["kind"]``)."""

    name: str
    cfg: dict
    kind: ClassVar[str] = ""
    horizon_key: ClassVar[str] = "epochs"  # the config key of a run's length: "epochs" or "steps"

    def __init_subclass__(cls, kind: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind
            KINDS[kind] = cls

    def __new__(cls, name: str, cfg: dict):
        if cls is Study:
            if cfg.get("kind") not in KINDS:
                raise ConfigError(f"config key 'studies.{name}.kind': {cfg.get('kind')!r} is not one of {sorted(KINDS)}")
            cls = KINDS[cfg["kind"]]
        return super().__new__(cls)

    @property
    def where(self) -> str:
        """The key path of this study in the config, for error messages."""
        return f"studies.{self.name}"

    @property
    def seeds(self) -> list[int]:
        return list(self.cfg["seeds"])

    @property
    def store(self) -> str:
        """The study's labelled store, the input of its figures and its archive."""
        return f"results/{self.name}/{self.name}.nc"

    @property
    def dataset_key(self) -> str | None:
        """File name of the prepared dataset: the name plus any subset options (None: the
        study reads no dataset of its own)."""
        if "dataset" not in self.cfg:
            return None
        d = self.cfg["dataset"]
        parts = [d["name"]]
        for key, tag in (
            ("classes", "c"), ("n_train", "n"), ("n_test", "test"), ("context", "ctx"),
            ("label_noise", "noise"), ("label_noise_seed", "nseed"),
        ):
            if d.get(key):
                parts.append(f"{tag}{d[key]:g}" if isinstance(d[key], float) else f"{tag}{d[key]}")
        return "-".join(parts)

    @property
    def prepared_dataset(self) -> dict:
        """The dataset options that shape the prepared file (preprocessing happens at load)."""
        return {k: v for k, v in self.cfg["dataset"].items() if k != "preprocess"}

    def check(self) -> None:
        """Cross-field rules the schema cannot express; raise :class:`ConfigError`. The base
        checks the training settings every kind that trains shares."""
        check_lr_schedule(self.where, self.cfg["lr_schedule"], self.horizon, self.horizon_key)
        for opt, settings in self.cfg["optimizers"].items():
            kind = settings.get("type", opt)
            if opt in OPTIMIZER_TYPES and kind != opt:
                raise ConfigError(
                    f"config key '{self.where}.optimizers.{opt}.type': the label '{opt}' names the optimizer {opt}; "
                    f"give a {kind} another label (e.g. '{kind}_{opt}')"
                )
            if settings.get("nesterov") and not settings.get("momentum"):
                raise ConfigError(f"config key '{self.where}.optimizers.{opt}.nesterov': Nesterov needs momentum > 0")
        if self.cfg["device"] == "cpu" and self.cfg["dtype"] not in ("float32", "float64"):
            raise ConfigError(f"config key '{self.where}.dtype': {self.cfg['dtype']} is not supported on the CPU")
        if "dataset" in self.cfg:
            check_dataset(f"{self.where}.dataset", self.cfg["dataset"])
            check_subset_sizes(self.where, self.cfg["dataset"], self.subset_sizes())

    @property
    def horizon(self) -> int:
        """The length of a run in the unit its schedules count (epochs or steps)."""
        return self.cfg[self.horizon_key]

    def result_files(self) -> list[str]:
        """Per-run files worth keeping (the workflow's targets): a missing one is rebuilt by a
        plain run, even when the study's store is up to date."""
        return []

    def kept_checkpoints(self) -> dict[str, list[str]]:
        """Each checkpoint folder the study's prefix runs fill → the files it must hold."""
        return {}

    def subset_sizes(self) -> dict[str, int | None]:
        """The fixed training subsets the study measures on, by config key (sizes in examples)."""
        return {}

    def check_figure(self, fig_id: str, options: dict, key: str) -> None:
        """Whether figure ``fig_id`` with ``options`` can be drawn from this study."""

    def check_against(self, studies: dict) -> None:
        """Rules that involve the other studies of the config (a study that reads another's outputs)."""


def check_lr_schedule(where: str, schedule: dict, horizon: int, unit: str) -> None:
    if schedule["name"] == "cosine" and "lr" in schedule and schedule.get("min_lr", 0) > schedule["lr"]:
        raise ConfigError(f"config key '{where}.lr_schedule.min_lr': {schedule['min_lr']} is above lr={schedule['lr']}")
    for i, m in enumerate(schedule.get("milestones", [])):
        if m > horizon:
            raise ConfigError(f"config key '{where}.lr_schedule.milestones.{i}': {m} is past {unit}={horizon}")
    if schedule["name"] == "multistep":
        for key in ("milestones", "gamma"):
            if key not in schedule:
                raise ConfigError(f"config key '{where}.lr_schedule.{key}' is required by a multistep schedule")


# Text datasets (character windows): they have no classes to corrupt or subset.
TEXT_DATASETS = ("tiny_shakespeare", "pydoc_topics")


def check_dataset(where: str, dataset: dict) -> None:
    text = dataset["name"] in TEXT_DATASETS
    for key in ("label_noise", "classes"):
        if text and dataset.get(key):
            raise ConfigError(f"config key '{where}.{key}': the text dataset {dataset['name']} has no class labels")
    if "context" in dataset and not text:
        raise ConfigError(f"config key '{where}.context': only the text datasets ({', '.join(TEXT_DATASETS)}) take a context")
    if "label_noise_seed" in dataset and not dataset.get("label_noise"):
        raise ConfigError(f"config key '{where}.label_noise_seed': set label_noise (a fraction > 0) as well")


# Training examples of each image dataset as the pipeline splits it (digits: its fixed
# stratified 80 % split), so that subsets larger than the data are caught before any job.
TRAIN_SIZES = {"digits": 1437, "mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000, "cifar100": 50000, "svhn": 73257, "synthetic_cifar10": 50000}


def check_subset_sizes(where: str, dataset: dict, subsets: dict[str, int | None]) -> None:
    """``subsets`` maps config keys to the number of training examples they ask for."""
    size = TRAIN_SIZES.get(dataset["name"])
    if size is None or dataset.get("classes"):
        return  # text windows, or a class subset: its size is known only once prepared
    if dataset.get("n_train") and dataset["n_train"] > size:
        raise ConfigError(f"config key '{where}.dataset.n_train': {dataset['n_train']} is more than {dataset['name']}'s {size} training examples")
    available = min(size, dataset.get("n_train") or size)
    for key, n in subsets.items():
        if n is not None and n > available:
            raise ConfigError(f"config key '{where}.{key}': {n} is more than the {available} training examples of this study's data")
