"""Batched augmentation: determinism from an explicit generator, and what each operation does."""

import pytest
import torch
import torch.nn.functional as F

from sharpness.data import Augmentation, augment_batch, cutout, random_crop, random_flip

FULL = Augmentation(flip=True, crop_padding=4, cutout=8)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n=64, channels=3, size=32, dtype=torch.uint8, seed=0) -> torch.Tensor:
    x = torch.randint(1, 256, (n, channels, size, size), generator=generator(seed), dtype=torch.int64)
    return x.to(dtype)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_same_seed_same_output_and_global_rng_untouched(dtype):
    x = images(dtype=dtype)
    rng_state = torch.get_rng_state()
    first = augment_batch(x, FULL, generator(7))
    second = augment_batch(x, FULL, generator(7))
    assert torch.equal(first, second)
    assert not torch.equal(first, augment_batch(x, FULL, generator(8)))
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert first.dtype == dtype and first.shape == x.shape


def test_flip_mirrors_about_half_of_the_images():
    x = images()
    out = random_flip(x, generator(1))
    flipped = [bool(torch.equal(o, i.flip(-1))) for o, i in zip(out, x)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept)), "each image is either mirrored or untouched"
    assert 10 < sum(flipped) < 54


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    padding = 3
    x = images(n=16, size=12)
    out = random_crop(x, padding, generator(2))
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = F.pad(x, (padding,) * 4)
    offsets = []
    for o, p in zip(out, padded):
        matches = [
            (dy, dx)
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
            if torch.equal(o, p[:, dy : dy + 12, dx : dx + 12])
        ]
        assert len(matches) == 1
        offsets.append(matches[0])
    assert len(set(offsets)) > 4, "offsets vary across the batch"


def test_cutout_zeroes_one_clipped_square_in_all_channels():
    size = 4
    x = torch.ones(200, 3, 16, 16)
    out = cutout(x, size, generator(3))
    zero = out == 0
    assert torch.equal(zero[:, 0], zero[:, 1]) and torch.equal(zero[:, 0], zero[:, 2])
    full_squares = 0
    for mask in zero[:, 0]:
        rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        height, width = len(rows), len(cols)
        assert 1 <= height <= size and 1 <= width <= size
        assert int(mask.sum()) == height * width, "the zeroed pixels form one rectangle"
        assert rows.max() - rows.min() + 1 == height and cols.max() - cols.min() + 1 == width
        full_squares += height == width == size
    assert full_squares > 100, "squares away from the border are whole"
    assert torch.equal(out[~zero], x[~zero])


def test_cutout_on_uint8_images():
    x = images(n=8, size=16)
    out = cutout(x, 5, generator(4))
    assert out.dtype == torch.uint8 and int((out == 0).sum()) > 0 and int((x == 0).sum()) == 0


def test_config_mapping_and_validation():
    x = images(n=8)
    assert augment_batch(x, {}, generator(0)) is x
    assert augment_batch(x, None, generator(0)) is x
    as_dict = augment_batch(x, {"flip": True, "crop_padding": 4, "cutout": 8}, generator(5))
    assert torch.equal(as_dict, augment_batch(x, FULL, generator(5)))
    assert FULL.enabled and not Augmentation().enabled
    with pytest.raises(ValueError, match="unknown augmentation option"):
        Augmentation.from_config({"mixup": 0.2})
    with pytest.raises(ValueError, match="crop_padding must be an integer >= 0"):
        Augmentation(crop_padding=-1)
    with pytest.raises(ValueError, match="flip must be true or false"):
        Augmentation(flip=1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment_batch(x[0], FULL, generator(0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_generator_gives_identical_augmentation_on_gpu():
    x = images()
    on_cpu = augment_batch(x, FULL, generator(9))
    on_gpu = augment_batch(x.cuda(), FULL, generator(9))
    assert on_gpu.is_cuda and torch.equal(on_gpu.cpu(), on_cpu)


def test_autoaugment_is_torchvisions_policy_driven_by_the_generator_alone():
    from torchvision.transforms import v2

    x = images(n=16)
    aug = Augmentation(autoaugment="cifar10")
    rng_state = torch.get_rng_state()
    first = augment_batch(x, aug, generator(3))
    assert torch.equal(first, augment_batch(x, aug, generator(3))) and not torch.equal(first, augment_batch(x, aug, generator(4)))
    assert torch.equal(torch.get_rng_state(), rng_state), "the global RNG is forked, not consumed"
    assert first.dtype == torch.uint8 and first.shape == x.shape
    # Image by image it is torchvision's transform under the seed drawn from the generator.
    seed = int(torch.randint(2**62, (1,), generator=generator(3)))
    torch.manual_seed(seed)
    policy = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    assert torch.equal(first, torch.stack([policy(img) for img in x]))
    torch.set_rng_state(rng_state)
    with pytest.raises(ValueError, match="autoaugment"):
        Augmentation(autoaugment="cifar")
