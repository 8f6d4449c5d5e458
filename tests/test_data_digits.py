"""The bundled digits dataset, its fixed split, subsets, the registry and DatasetTensors itself."""

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sharpness.data import DATASETS, DatasetTensors, load_dataset, select_subset

# The split this package has always used. If a scikit-learn release changes how
# train_test_split shuffles, this fails: results would silently be on a different test set.
TEST_INDICES_SHA256 = "d9101e2e97e19974905f1336a8ef53c03166d6af2c53833be35ff03a33e7e0cd"


@pytest.fixture(scope="module")
def digits() -> DatasetTensors:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def sklearn_digits():
    return load_digits()


def test_digits_shapes_and_pixel_mapping(digits, sklearn_digits):
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == torch.uint8 and digits.y_train.dtype == torch.int64
    assert digits.num_classes == 10 and digits.name == "digits"
    test_idx = np.array(digits.meta["test_indices"])
    expected = torch.from_numpy((sklearn_digits.images[test_idx] * 15).astype(np.uint8)).unsqueeze(1)
    assert torch.equal(digits.x_test, expected)
    assert torch.equal(digits.y_test, torch.from_numpy(sklearn_digits.target[test_idx].astype(np.int64)))
    assert int(digits.x_train.max()) == 240 and set(torch.unique(digits.x_train).tolist()) <= set(range(0, 241, 15))


def test_digits_split_is_recorded_and_fixed(digits):
    test_idx = np.array(digits.meta["test_indices"], dtype="<i8")
    assert hashlib.sha256(test_idx.tobytes()).hexdigest() == digits.meta["test_indices_sha256"]
    assert digits.meta["test_indices_sha256"] == TEST_INDICES_SHA256
    assert "train_test_split" in digits.meta["split"] and "random_state=0" in digits.meta["split"]
    assert len(set(test_idx.tolist())) == 360


def test_digits_split_is_stratified(digits, sklearn_digits):
    total = np.bincount(sklearn_digits.target, minlength=10)
    test_counts = np.array(digits.meta["test_class_counts"])
    assert np.all(np.abs(test_counts - total * 360 / 1797) < 1)
    train_counts = np.array(digits.meta["train_class_counts"])
    np.testing.assert_array_equal(train_counts + test_counts, total)


def test_digits_load_is_deterministic(digits):
    again = load_dataset("digits")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(digits, key), getattr(again, key))
    assert again.meta == digits.meta and again.mean == digits.mean


def test_class_subset_keeps_first_classes_in_order(digits):
    sub = load_dataset("digits", classes=3, n_train=50, n_test=20)
    keep = digits.y_train < 3
    assert sub.num_classes == 3
    assert torch.equal(sub.x_train, digits.x_train[keep][:50])
    assert torch.equal(sub.y_train, digits.y_train[keep][:50])
    assert torch.equal(sub.y_test, digits.y_test[digits.y_test < 3][:20])
    assert sub.meta["subset"] == dict(sub.meta["subset"], classes=3, n_train=50, n_test=20)
    assert sum(sub.meta["train_class_counts"]) == 50 and len(sub.meta["test_class_counts"]) == 3


@pytest.mark.parametrize(
    "options,message",
    [
        (dict(classes=11), r"classes=11 but only 10 classes"),
        (dict(classes=1), r"classes must be at least 2"),
        (dict(n_train=1438), r"n_train=1438 but only 1437 training examples"),
        (dict(classes=2, n_train=1000), r"n_train=1000 but only \d+ training examples in the first 2 classes"),
        (dict(n_test=361), r"n_test=361"),
        (dict(n_test=0), r"n_test must be at least 1"),
        (dict(n_train=2.5), r"n_train must be an integer"),
    ],
)
def test_impossible_subsets_name_the_option(digits, options, message):
    with pytest.raises(ValueError, match=message):
        select_subset(digits, **options)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar11'") as err:
        load_dataset("cifar11", "/nonexistent")
    for name in DATASETS:
        assert name in str(err.value)
    assert {"digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "svhn"} <= set(DATASETS)


def test_normalized_matches_formula_and_standardises_train(digits):
    x = digits.normalized("train", dtype=torch.float64)
    manual = (digits.x_train.double() / 255 - digits.mean[0]) / digits.std[0]
    torch.testing.assert_close(x, manual)
    assert abs(float(x.mean())) < 1e-9 and abs(float(x.std(unbiased=False)) - 1) < 1e-9
    assert digits.normalized("test").dtype == torch.float32
    torch.testing.assert_close(digits.normalize(digits.x_test[:5]), digits.normalized("test")[:5])
    with pytest.raises(ValueError, match="split must be one of"):
        digits.normalized("validation")


def test_to_moves_all_tensors_and_keeps_the_rest(digits):
    moved = digits.to("cpu")
    assert moved is not digits and moved.meta == digits.meta and moved.mean == digits.mean
    assert torch.equal(moved.x_train, digits.x_train) and moved.labels("test").device.type == "cpu"
    if torch.cuda.is_available():
        on_gpu = digits.to("cuda")
        assert on_gpu.x_train.is_cuda and on_gpu.normalized("train").is_cuda


def test_dataset_tensors_reject_inconsistent_parts(digits):
    with pytest.raises(ValueError, match="uint8"):
        replace(digits, x_train=digits.x_train.float())
    with pytest.raises(ValueError, match="0..1"):
        replace(digits, num_classes=2)
    with pytest.raises(ValueError, match="one entry per channel"):
        replace(digits, mean=(0.5, 0.5, 0.5))
