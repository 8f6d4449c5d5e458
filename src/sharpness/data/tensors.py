"""A classification dataset held as whole uint8 image tensors plus everything needed to use it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import torch

SPLITS = ("train", "test")

# Channel statistics are accumulated over this many images at a time, so that a 50k-image
# dataset is never converted to float64 all at once.
_STATS_CHUNK = 4096


class TrainTestSplits:
    """What the training loop reads of a dataset, images or token windows alike: the train and
    test tensors ``x_*``/``y_*`` and a ``normalize`` that makes inputs of raw ``x``."""

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs and labels (targets) of ``"train"`` or ``"test"``."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")

    def normalized(self, split: str, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """All inputs of ``split`` normalised, moved to ``device`` first (uint8 is 4x cheaper to move)."""
        inputs, _ = self.split(split)
        return self.normalize(inputs.to(device) if device is not None else inputs, dtype=dtype)

    def labels(self, split: str, device=None) -> torch.Tensor:
        """The int64 labels (targets) of ``split``, on ``device`` if given."""
        _, labels = self.split(split)
        return labels.to(device) if device is not None else labels

    def to(self, device):
        """A copy whose four tensors live on ``device``."""
        return replace(
            self,
            x_train=self.x_train.to(device),
            y_train=self.y_train.to(device),
            x_test=self.x_test.to(device),
            y_test=self.y_test.to(device),
        )


@dataclass(frozen=True)
class DatasetTensors(TrainTestSplits):
    """Train and test splits as tensors; images stay uint8 until :meth:`normalize` is applied.

    ``mean`` and ``std`` are per-channel statistics of ``x / 255``; ``meta`` is plain data
    (str, int, float, bool, None, lists and dicts) describing where the tensors came from.
    """

    x_train: torch.Tensor  # uint8 (N, C, H, W)
    y_train: torch.Tensor  # int64 (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str
    meta: dict = field(default_factory=dict)
    # (C, H, W) float64 mean of x/255 over the training split when the images are centred per
    # pixel (sam-eos's preprocessing, see :meth:`centered`); None: per-channel standardisation.
    pixel_mean: torch.Tensor | None = None

    # Image batches, not token windows (see text.SequenceTensors); lets the loop branch on data kind.
    is_sequence: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        for split in SPLITS:
            _check_split(split, *self.split(split), self.num_classes)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"train images are {tuple(self.x_train.shape[1:])} but test images are {tuple(self.x_test.shape[1:])}"
            )
        channels = self.x_train.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need one entry per channel ({channels}), got {self.mean} and {self.std}")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def from_splits(cls, name: str, x_train, y_train, x_test, y_test, num_classes: int, meta: dict) -> "DatasetTensors":
        """Build a dataset whose ``mean``/``std`` are the channel statistics of ``x_train``."""
        mean, std = channel_mean_std(x_train)
        meta = dict(
            meta, normalization="per-channel mean and population std of x/255 over the full source training split"
        )
        return cls(x_train, y_train, x_test, y_test, num_classes, mean, std, name, meta)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.x_train.shape[1:])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one example, (C, H, W): the name images and token windows share."""
        return self.image_shape

    def normalize(self, images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``(images / 255 - mean) / std`` per channel, on the images' device; for a centred
        dataset ``images / 255 - pixel_mean`` instead."""
        if self.pixel_mean is not None:
            return images.to(dtype) / 255 - self.pixel_mean.to(dtype=dtype, device=images.device)
        shape = (1, -1, 1, 1)
        mean = torch.tensor(self.mean, dtype=dtype, device=images.device).view(shape)
        std = torch.tensor(self.std, dtype=dtype, device=images.device).view(shape)
        return (images.to(dtype) / 255 - mean) / std

    def centered(self) -> "DatasetTensors":
        """The same data, inputs taken as ``x / 255`` minus the per-pixel mean of this training
        split, without scaling: sam-eos's "the data was centered" (its code divides by 256, a
        constant factor apart)."""
        return replace(self, pixel_mean=(self.x_train.to(torch.float64) / 255).mean(0))



def _check_split(split: str, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"x_{split} must be a uint8 (N, C, H, W) tensor, got {images.dtype} {tuple(images.shape)}")
    if labels.dtype != torch.int64 or labels.dim() != 1:
        raise ValueError(f"y_{split} must be an int64 (N,) tensor, got {labels.dtype} {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise ValueError(f"x_{split} has {len(images)} images but y_{split} has {len(labels)} labels")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"y_{split} must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")


def channel_mean_std(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of ``images / 255``, in float64."""
    if images.dim() != 4 or len(images) == 0:
        raise ValueError(f"need a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}")
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    for chunk in images.split(_STATS_CHUNK):
        values = chunk.to(device="cpu", dtype=torch.float64) / 255
        total += values.sum(dim=(0, 2, 3))
        total_sq += values.square().sum(dim=(0, 2, 3))
    count = images.numel() // channels
    mean = total / count
    # Values lie in [0, 1], so E[x^2] - E[x]^2 in float64 loses nothing that matters here.
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
