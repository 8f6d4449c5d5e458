"""Batched data augmentation on the images' device, driven only by an explicit generator.

Every random number comes from the ``torch.Generator`` passed in, never from the global RNG,
so a training loop that seeds one generator per epoch from (seed, epoch) gets the same
augmentation on every run. Random numbers are drawn on the generator's device and then moved
to the images: a CPU generator therefore gives identical augmentation on CPU and GPU.

Images are (N, C, H, W) tensors of any dtype (uint8 or float). The operations apply in the
order crop, flip, AutoAugment, cutout (the usual CIFAR order); each draws its random numbers
only when enabled. AutoAugment is torchvision's (Cubuk et al. 2019), image by image on uint8
images, with torch's RNG forked and seeded from the generator, so it too is a function of the
generator alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

# torchvision's AutoAugment policies by our config names.
AUTOAUGMENT_POLICIES = ("cifar10", "imagenet", "svhn")


@dataclass(frozen=True)
class Augmentation:
    """Which augmentations to apply; the defaults apply none.

    ``crop_padding``: pad by this many zero pixels per side, then crop back to the original
    size at a uniformly random offset (0 = off). ``cutout``: zero a ``cutout`` x ``cutout``
    square whose centre is uniform over the image, clipped at the border (0 = off).
    ``autoaugment``: one of torchvision's AutoAugment policies (``AUTOAUGMENT_POLICIES``) or None.
    """

    flip: bool = False
    crop_padding: int = 0
    cutout: int = 0
    autoaugment: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be true or false, got {self.flip!r}")
        for option in ("crop_padding", "cutout"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{option} must be an integer >= 0 (0 = off), got {value!r}")
        if self.autoaugment not in (None, *AUTOAUGMENT_POLICIES):
            raise ValueError(f"autoaugment must be one of {AUTOAUGMENT_POLICIES} or null, got {self.autoaugment!r}")

    @classmethod
    def from_config(cls, config: "Augmentation | Mapping | None") -> "Augmentation":
        """Accept an ``Augmentation``, a config mapping with its field names, or None (no augmentation)."""
        if config is None:
            return cls()
        if isinstance(config, Augmentation):
            return config
        known = {f.name for f in fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown augmentation option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**config)

    @property
    def enabled(self) -> bool:
        return self.flip or self.crop_padding > 0 or self.cutout > 0 or self.autoaugment is not None


def augment_batch(
    images: torch.Tensor, augmentation: Augmentation | Mapping | None, generator: torch.Generator
) -> torch.Tensor:
    """Apply ``augmentation`` to a batch; returns ``images`` itself when nothing is enabled."""
    aug = Augmentation.from_config(augmentation)
    if images.dim() != 4:
        raise ValueError(f"augmentation needs an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if aug.crop_padding:
        images = random_crop(images, aug.crop_padding, generator)
    if aug.flip:
        images = random_flip(images, generator)
    if aug.autoaugment:
        images = auto_augment(images, aug.autoaugment, generator)
    if aug.cutout:
        images = cutout(images, aug.cutout, generator)
    return images


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = _randint(2, len(images), generator, images.device).bool()
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each side by ``padding`` and crop an image of the original size at a random offset."""
    n, channels, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    top = _randint(2 * padding + 1, n, generator, images.device)
    left = _randint(2 * padding + 1, n, generator, images.device)
    rows = top[:, None] + torch.arange(height, device=images.device)  # (N, H)
    cols = left[:, None] + torch.arange(width, device=images.device)  # (N, W)
    # One gather for the whole batch: index (n, c, row, col) broadcast to (N, C, H, W).
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(channels, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def auto_augment(images: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """torchvision's AutoAugment ``policy``, one sub-policy drawn per image (uint8 images)."""
    from torchvision.transforms import v2

    if images.dtype != torch.uint8:
        raise ValueError(f"AutoAugment needs uint8 images, got {images.dtype}")
    transform = v2.AutoAugment(v2.AutoAugmentPolicy(policy))
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return torch.stack([transform(image) for image in images])


def cutout(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Set a ``size`` x ``size`` square to zero in every channel of each image.

    The centre is uniform over the image, so squares near the border are clipped (as in
    DeVries and Taylor's cutout). Zero means black for uint8 images and the channel mean for
    normalised ones.
    """
    n, _, height, width = images.shape
    top = _randint(height, n, generator, images.device) - size // 2
    left = _randint(width, n, generator, images.device) - size // 2
    rows = torch.arange(height, device=images.device)
    cols = torch.arange(width, device=images.device)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)  # (N, W)
    square = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return images.masked_fill(square[:, None], 0)


def _randint(high: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randint(high, (n,), generator=generator, device=generator.device).to(device)
