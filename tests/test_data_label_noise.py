"""Symmetric label noise: exactly the fraction asked for, never the true class, training split
only, fixed by its seed, and part of the prepared file's checksum."""

import json

import numpy as np
import pytest
import torch

from sharpness.config import ConfigError, validate_config
from sharpness.config.base import TEXT_DATASETS
from sharpness.data import SEQUENCE_DATASETS, load_dataset, prepare_dataset, sidecar_path
from sharpness.data.label_noise import corrupt_labels


def test_exact_fraction_changed_and_never_to_the_true_class():
    labels = torch.arange(200) % 10
    noisy, flipped = corrupt_labels(labels, 10, 0.25, seed=3)
    changed = np.flatnonzero((noisy != labels).numpy())
    assert len(flipped) == 50 and np.array_equal(changed, flipped)
    assert noisy.dtype == labels.dtype and int(noisy.min()) >= 0 and int(noisy.max()) <= 9


def test_new_labels_are_uniform_over_the_other_classes():
    labels = torch.zeros(30000, dtype=torch.int64)
    noisy, flipped = corrupt_labels(labels, 4, 0.6, seed=0)
    counts = noisy[torch.from_numpy(flipped)].bincount(minlength=4).numpy()
    assert counts[0] == 0
    expected = len(flipped) / 3  # 6000 each; sd of a count ≈ 63
    assert np.all(np.abs(counts[1:] - expected) < 5 * np.sqrt(expected))


def test_noise_is_a_function_of_its_seed():
    labels = torch.arange(100) % 5
    a, _ = corrupt_labels(labels, 5, 0.3, seed=1)
    b, _ = corrupt_labels(labels, 5, 0.3, seed=1)
    c, _ = corrupt_labels(labels, 5, 0.3, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_fraction_outside_unit_interval_is_refused(fraction):
    with pytest.raises(ValueError, match="label_noise"):
        corrupt_labels(torch.zeros(10, dtype=torch.int64), 2, fraction, seed=0)


def test_only_training_labels_change_and_meta_records_it():
    clean = load_dataset("digits")
    noisy = load_dataset("digits", label_noise=0.25)
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.y_test, clean.y_test)
    assert int((noisy.y_train != clean.y_train).sum()) == round(0.25 * len(clean.y_train))
    assert noisy.meta["label_noise"]["n_flipped"] == round(0.25 * len(clean.y_train))
    assert noisy.meta["tensor_sha256"]["y_train"] != clean.meta["tensor_sha256"]["y_train"]
    assert noisy.meta["tensor_sha256"]["y_test"] == clean.meta["tensor_sha256"]["y_test"]


def test_prepared_checksum_and_sidecar_record_the_noise(tmp_path):
    clean = prepare_dataset("digits", None, tmp_path / "clean.pt", n_train=300)
    noisy = prepare_dataset("digits", None, tmp_path / "noisy.pt", n_train=300, label_noise=0.2, label_noise_seed=4)
    assert noisy["sha256"] != clean["sha256"]
    sidecar = json.loads(sidecar_path(tmp_path / "noisy.pt").read_text())
    assert sidecar["options"]["label_noise"] == 0.2 and sidecar["options"]["label_noise_seed"] == 4
    assert "label_noise" not in clean["options"], "a clean dataset's sidecar is unchanged by the option's existence"


def test_text_datasets_take_no_label_noise():
    with pytest.raises(ValueError, match="label_noise"):
        load_dataset("pydoc_topics", label_noise=0.1, n_train=8, n_test=8, context=8)


def test_config_knows_the_same_text_datasets_as_the_loaders():
    assert set(TEXT_DATASETS) == set(SEQUENCE_DATASETS)


def _study(dataset):
    return {
        "studies": {
            "s": {
                "kind": "switching", "dataset": dataset, "model": {"name": "mlp"}, "loss": "cross_entropy",
                "seeds": [0], "epochs": 2, "batch_size": 8, "lr_schedule": {"name": "constant", "lr": 0.1},
                "optimizers": {"sgd": {}, "sam": {"rho": 0.05}}, "switching": {"directions": ["sgd->sam"], "switch_epochs": [1]},
            }
        }
    }


@pytest.mark.parametrize(
    "dataset, key",
    [
        ({"name": "digits", "label_noise": 1.0}, "studies.s.dataset.label_noise"),
        ({"name": "pydoc_topics", "label_noise": 0.1}, "studies.s.dataset.label_noise"),
        ({"name": "digits", "label_noise_seed": 3}, "studies.s.dataset.label_noise_seed"),
        ({"name": "digits", "context": 8}, "studies.s.dataset.context"),
    ],
)
def test_config_rejects_noise_where_it_means_nothing(dataset, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(_study(dataset))


def test_noisy_dataset_gets_its_own_file_name():
    from sharpness.config import Study

    cfg = validate_config(_study({"name": "digits", "label_noise": 0.25}))
    assert Study("s", cfg["studies"]["s"]).dataset_key == "digits-noise0.25"
