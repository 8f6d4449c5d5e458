"""torchvision-backed datasets, read from tiny files written in each dataset's native format.

Nothing can be downloaded in tests, so every fixture writes the files torchvision expects and
points torchvision's md5 lists at them; the pixels read back must be exactly the ones written.
"""

import gzip
import hashlib
import pickle
import struct

import numpy as np
import pytest
import scipy.io
import torch
from torchvision import datasets as tvd

from sharpness.data import DatasetIntegrityError, file_sha256, load_dataset, tensor_sha256


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def labels_cycling(n: int, num_classes: int, offset: int = 0) -> np.ndarray:
    return (np.arange(n) + offset) % num_classes


# -- CIFAR ------------------------------------------------------------------------------------


def write_pickle(path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def write_cifar10(root, monkeypatch, per_batch=4, n_test=10):
    """Five training batches and a test batch; returns the expected (x, y) of both splits."""
    rng = np.random.default_rng(10)
    folder = root / "cifar-10-batches-py"
    batches = []
    for i in range(5):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = labels_cycling(per_batch, 10, offset=i * per_batch).tolist()
        write_pickle(folder / f"data_batch_{i + 1}", {"data": data, "labels": labels, "batch_label": f"b{i}"})
        batches.append((data, labels))
    test_data = rng.integers(0, 256, (n_test, 3072), dtype=np.uint8)
    test_labels = labels_cycling(n_test, 10, offset=3).tolist()
    write_pickle(folder / "test_batch", {"data": test_data, "labels": test_labels})
    write_pickle(folder / "batches.meta", {"label_names": [f"class{c}" for c in range(10)]})
    monkeypatch.setattr(
        tvd.CIFAR10, "train_list", [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
    )
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", dict(tvd.CIFAR10.meta, md5=md5(folder / "batches.meta")))
    x_train = np.concatenate([d for d, _ in batches]).reshape(-1, 3, 32, 32)
    y_train = np.concatenate([lab for _, lab in batches])
    return (x_train, y_train), (test_data.reshape(-1, 3, 32, 32), np.array(test_labels))


def write_cifar100(root, monkeypatch, n_train=30, n_test=12):
    rng = np.random.default_rng(100)
    folder = root / "cifar-100-python"
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, n)
        fine[:3] = [0, 1, 99]  # make sure the label range is exercised
        write_pickle(
            folder / split, {"data": data, "fine_labels": fine.tolist(), "coarse_labels": (fine // 5).tolist()}
        )
        splits[split] = (data.reshape(-1, 3, 32, 32), fine)
    write_pickle(folder / "meta", {"fine_label_names": [f"fine{c}" for c in range(100)], "coarse_label_names": []})
    monkeypatch.setattr(tvd.CIFAR100, "train_list", [["train", md5(folder / "train")]])
    monkeypatch.setattr(tvd.CIFAR100, "test_list", [["test", md5(folder / "test")]])
    monkeypatch.setattr(tvd.CIFAR100, "meta", dict(tvd.CIFAR100.meta, md5=md5(folder / "meta")))
    return splits["train"], splits["test"]


# -- MNIST-style idx files --------------------------------------------------------------------


def idx_images(images: np.ndarray) -> bytes:
    return struct.pack(">IIII", 0x00000803, *images.shape) + images.tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes()


def mnist_files(n_train=12, n_test=7, seed=28):
    """The four idx files' names and bytes, plus the expected splits."""
    rng = np.random.default_rng(seed)
    splits, files = {}, {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = labels_cycling(n, 10, offset=n)
        files[f"{prefix}-images-idx3-ubyte"] = idx_images(images)
        files[f"{prefix}-labels-idx1-ubyte"] = idx_labels(labels)
        splits[prefix] = (images[:, None], labels)
    return files, splits["train"], splits["t10k"]


def write_mnist(root, class_name):
    raw = root / class_name / "raw"
    raw.mkdir(parents=True)
    files, train, test = mnist_files()
    for name, payload in files.items():
        (raw / name).write_bytes(payload)
    return train, test


def write_mnist_archives(root, class_name, monkeypatch):
    """Only the .gz archives, as a hand download would leave them, with matching md5s."""
    raw = root / class_name / "raw"
    raw.mkdir(parents=True)
    files, train, test = mnist_files()
    resources = []
    for name, payload in files.items():
        (raw / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
        resources.append((f"{name}.gz", md5(raw / f"{name}.gz")))
    monkeypatch.setattr(getattr(tvd, class_name), "resources", resources)
    return train, test


# -- SVHN .mat files --------------------------------------------------------------------------


def write_svhn(root, monkeypatch, n_train=11, n_test=6):
    rng = np.random.default_rng(32)
    split_list = {k: list(v) for k, v in tvd.SVHN.split_list.items()}
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # SVHN stores H, W, C, N
        digits = labels_cycling(n, 10, offset=7)
        y = np.where(digits == 0, 10, digits).astype(np.uint8)[:, None]  # the file writes digit 0 as 10
        path = root / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": x, "y": y})
        split_list[split][2] = md5(path)
        splits[split] = (x.transpose(3, 2, 0, 1), digits)
    monkeypatch.setattr(tvd.SVHN, "split_list", split_list)
    return splits["train"], splits["test"]


WRITERS = {
    "cifar10": write_cifar10,
    "cifar100": write_cifar100,
    "mnist": lambda root, mp: write_mnist(root, "MNIST"),
    "fashion_mnist": lambda root, mp: write_mnist(root, "FashionMNIST"),
    "svhn": write_svhn,
}
SHAPES = {
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "mnist": (1, 28, 28),
    "fashion_mnist": (1, 28, 28),
    "svhn": (3, 32, 32),
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "mnist": 10, "fashion_mnist": 10, "svhn": 10}


def assert_split(images, labels, expected):
    x, y = expected
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert torch.equal(images, torch.from_numpy(np.ascontiguousarray(x)))
    assert torch.equal(labels, torch.from_numpy(np.asarray(y, dtype=np.int64)))


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_native_files_round_trip_exactly(name, tmp_path, monkeypatch):
    train, test = WRITERS[name](tmp_path, monkeypatch)
    data = load_dataset(name, tmp_path)
    assert data.name == name and data.num_classes == NUM_CLASSES[name]
    assert data.image_shape == SHAPES[name]
    assert_split(data.x_train, data.y_train, train)
    assert_split(data.x_test, data.y_test, test)
    assert len(data.mean) == len(data.std) == SHAPES[name][0]
    assert len(data.meta["class_names"]) == data.num_classes


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_meta_records_file_and_tensor_checksums(name, tmp_path, monkeypatch):
    WRITERS[name](tmp_path, monkeypatch)
    data = load_dataset(name, tmp_path)
    files = data.meta["source_files"]
    assert files, "every native file read should be fingerprinted"
    for rel, sha in files.items():
        assert sha == file_sha256(tmp_path / rel)
    for key, sha in data.meta["tensor_sha256"].items():
        assert sha == tensor_sha256(getattr(data, key))
    assert str(tmp_path) not in repr(data.meta), "metadata must not depend on where the files live"


def test_cifar10_mean_std_are_training_statistics(tmp_path, monkeypatch):
    (x_train, _), _ = write_cifar10(tmp_path, monkeypatch)
    data = load_dataset("cifar10", tmp_path)
    values = x_train.astype(np.float64) / 255
    np.testing.assert_allclose(data.mean, values.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(data.std, values.std(axis=(0, 2, 3)), rtol=1e-10)


def test_cifar10_class_and_size_subsets(tmp_path, monkeypatch):
    (x_train, y_train), (x_test, y_test) = write_cifar10(tmp_path, monkeypatch)
    data = load_dataset("cifar10", tmp_path, classes=2, n_train=3, n_test=1)
    keep_train, keep_test = y_train < 2, y_test < 2
    assert data.num_classes == 2
    assert_split(data.x_train, data.y_train, (x_train[keep_train][:3], y_train[keep_train][:3]))
    assert_split(data.x_test, data.y_test, (x_test[keep_test][:1], y_test[keep_test][:1]))
    assert data.meta["subset"]["classes"] == 2 and data.meta["subset"]["n_train"] == 3
    assert data.meta["train_class_counts"] == np.bincount(y_train[keep_train][:3], minlength=2).tolist()
    full = load_dataset("cifar10", tmp_path)
    assert data.mean == full.mean, "normalisation must not depend on the subset"


def test_subset_larger_than_available_names_the_option(tmp_path, monkeypatch):
    write_cifar10(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="n_train=21 .* 20 training examples"):
        load_dataset("cifar10", tmp_path, n_train=21)
    with pytest.raises(ValueError, match="classes=11"):
        load_dataset("cifar10", tmp_path, classes=11)


def test_corrupted_cifar_file_is_rejected(tmp_path, monkeypatch):
    write_cifar10(tmp_path, monkeypatch)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    payload = bytearray(batch.read_bytes())
    payload[-20] ^= 0xFF
    batch.write_bytes(bytes(payload))
    with pytest.raises(DatasetIntegrityError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)


def test_corrupted_svhn_file_is_rejected(tmp_path, monkeypatch):
    write_svhn(tmp_path, monkeypatch)
    with open(tmp_path / "test_32x32.mat", "ab") as f:
        f.write(b"\0")
    with pytest.raises(DatasetIntegrityError, match="test_32x32.mat"):
        load_dataset("svhn", tmp_path)


@pytest.mark.parametrize("class_name,name", [("MNIST", "mnist"), ("FashionMNIST", "fashion_mnist")])
def test_mnist_archives_are_verified_and_unpacked(class_name, name, tmp_path, monkeypatch):
    train, test = write_mnist_archives(tmp_path, class_name, monkeypatch)
    data = load_dataset(name, tmp_path)
    assert_split(data.x_train, data.y_train, train)
    assert_split(data.x_test, data.y_test, test)
    assert (tmp_path / class_name / "raw" / "train-images-idx3-ubyte").is_file()


def test_mnist_archive_with_wrong_md5_is_rejected(tmp_path, monkeypatch):
    write_mnist_archives(tmp_path, "MNIST", monkeypatch)
    archive = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(gzip.compress(b"not the labels", mtime=0))
    with pytest.raises(DatasetIntegrityError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_missing_files_name_the_root_and_the_remedy(name, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "download: true" in message and "place the original files" in message


def test_file_datasets_need_a_root():
    with pytest.raises(ValueError, match="pass root"):
        load_dataset("cifar10", None)
