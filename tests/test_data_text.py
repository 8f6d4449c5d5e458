"""Character-level text data: the line split, windows, vocabulary, subsets, prepared files, download."""

import hashlib
import json
from dataclasses import replace

import pytest
import torch

from sharpness.data import (
    DATASETS,
    SEQUENCE_DATASETS,
    DatasetIntegrityError,
    DatasetTensors,
    SequenceTensors,
    encode_text,
    file_sha256,
    load_dataset,
    load_prepared,
    prepare_dataset,
    sidecar_path,
    split_last_lines,
)
from sharpness.data import text as text_module
from sharpness.data.prepared import SEQUENCE_FORMAT

CONTEXT = 8
# 50 training lines, then 10,000 test lines (sam-eos holds out the last 10,000); the first test
# line brings "Z" and "!", which the training text lacks.
TRAIN_LINES = [f"{i:02d} to be\n" for i in range(50)]
TEST_LINES = ["Z! be\n"] + [f"{i % 100:02d} be\n" for i in range(1, 10_000)]
TRAIN_TEXT, TEST_TEXT = "".join(TRAIN_LINES), "".join(TEST_LINES)


@pytest.fixture
def shakespeare_root(tmp_path):
    root = tmp_path / "raw"
    (root / "tiny_shakespeare").mkdir(parents=True)
    (root / "tiny_shakespeare" / "input.txt").write_bytes((TRAIN_TEXT + TEST_TEXT).encode())
    return root


@pytest.fixture
def small(shakespeare_root) -> SequenceTensors:
    return load_dataset("tiny_shakespeare", shakespeare_root, context=CONTEXT)


def stream(text: str, data: SequenceTensors) -> torch.Tensor:
    return encode_text(text, data.vocabulary, unknown_id=data.unknown_id)


def test_registry_lists_the_text_datasets():
    assert set(SEQUENCE_DATASETS) == {"tiny_shakespeare", "pydoc_topics"} and set(SEQUENCE_DATASETS) <= set(DATASETS)
    # The published file these checks pin (TensorFlow Datasets' checksums.tsv for this URL).
    assert text_module.TINY_SHAKESPEARE_BYTES == 1_115_394
    assert text_module.TINY_SHAKESPEARE_SHA256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_last_10000_lines_are_the_test_text(small):
    assert split_last_lines(TRAIN_TEXT + TEST_TEXT, 10_000) == (TRAIN_TEXT, TEST_TEXT)
    assert small.meta["train_characters"] == len(TRAIN_TEXT) and small.meta["test_characters"] == len(TEST_TEXT)
    assert small.decode(small.x_train[0]) == TRAIN_TEXT[:CONTEXT]
    assert small.decode(small.x_test[1]) == TEST_TEXT[CONTEXT : 2 * CONTEXT]


def test_line_split_edge_cases():
    assert split_last_lines("a\nb\nc", 1) == ("a\nb\n", "c")  # last line without "\n"
    assert split_last_lines("a\rb\nc\n", 1) == ("a\rb\n", "c\n")  # only "\n" ends a line
    with pytest.raises(ValueError, match="last 3 lines of a text of 3 lines"):
        split_last_lines("a\nb\nc\n", 3)


def test_windows_cover_the_stream_with_y_shifted_by_one(small):
    for split, text in (("train", TRAIN_TEXT), ("test", TEST_TEXT)):
        ids = stream(text, small)
        x, y = small.split(split)
        n = (len(text) - 1) // CONTEXT
        assert x.shape == y.shape == (n, CONTEXT) and x.dtype == y.dtype == torch.int64
        for i in (0, 1, n // 2, n - 1):
            assert torch.equal(x[i], ids[i * CONTEXT : (i + 1) * CONTEXT])
            assert torch.equal(y[i], ids[i * CONTEXT + 1 : (i + 1) * CONTEXT + 1])
        assert torch.equal(x[1:, 0], y[:-1, -1])  # consecutive windows share their boundary token
        # Every token but the first is a target exactly once; only the incomplete tail is dropped.
        assert torch.equal(y.reshape(-1), ids[1 : n * CONTEXT + 1])
    assert small.input_shape == (CONTEXT,) and small.context == CONTEXT


def test_vocabulary_is_the_sorted_training_characters_and_unknowns_get_a_reserved_id(small):
    assert list(small.vocabulary) == sorted(set(TRAIN_TEXT)) and small.meta["vocabulary"] == sorted(set(TRAIN_TEXT))
    assert small.meta["unknown_characters"] == ["!", "Z"]
    assert small.unknown_id == len(small.vocabulary) and small.num_classes == len(small.vocabulary) + 1
    assert int(small.y_train.max()) < small.unknown_id  # never a training target
    assert small.decode(small.x_test[0]) == "\ufffd\ufffd be\n01"
    # "Z" is the first test token (input only), "!" the first test target.
    assert int((small.x_test == small.unknown_id).sum()) == 2 and int((small.y_test == small.unknown_id).sum()) == 1
    assert sum(small.meta["test_class_counts"]) == small.y_test.numel()
    assert small.meta["test_class_counts"][small.unknown_id] == 1


def test_no_reserved_id_without_unknown_test_characters(tmp_path):
    root = tmp_path / "raw"
    (root / "tiny_shakespeare").mkdir(parents=True)
    (root / "tiny_shakespeare" / "input.txt").write_text(TRAIN_TEXT + "00 be\n" + "".join(TEST_LINES[1:]))
    data = load_dataset("tiny_shakespeare", root, context=CONTEXT)
    assert data.unknown_id is None and data.num_classes == len(data.vocabulary) == len(set(TRAIN_TEXT))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        encode_text("Z", data.vocabulary)


def test_default_context_is_64(shakespeare_root):
    data = load_dataset("tiny_shakespeare", shakespeare_root)
    assert data.context == 64 and len(data.x_test) == (len(TEST_TEXT) - 1) // 64


def test_subsets_keep_the_first_windows(small, shakespeare_root):
    sub = load_dataset("tiny_shakespeare", shakespeare_root, context=CONTEXT, n_train=3, n_test=5)
    assert torch.equal(sub.x_train, small.x_train[:3]) and torch.equal(sub.y_test, small.y_test[:5])
    assert sub.vocabulary == small.vocabulary and sub.num_classes == small.num_classes
    assert sub.meta["subset"]["n_train"] == 3
    with pytest.raises(ValueError, match=f"n_train={len(small.x_train) + 1}"):
        load_dataset("tiny_shakespeare", shakespeare_root, context=CONTEXT, n_train=len(small.x_train) + 1)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("tiny_shakespeare", dict(classes=2), "classes=2 does not apply to the text dataset 'tiny_shakespeare'"),
        ("digits", dict(context=64), "context=64 applies only to the text datasets"),
        ("tiny_shakespeare", dict(context=0), "context must be a positive integer"),
        ("tiny_shakespeare", dict(context=2.5), "context must be a positive integer"),
        ("tiny_shakespeare", dict(context=True), "context must be a positive integer"),
        ("tiny_shakespeare", dict(context=len(TRAIN_TEXT)), "the train text of tiny_shakespeare has"),
    ],
)
def test_options_that_do_not_apply_are_errors(shakespeare_root, name, options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(name, shakespeare_root, **options)


def test_prepare_rejects_before_writing(shakespeare_root, tmp_path):
    out = tmp_path / "prepared" / "x.pt"
    with pytest.raises(ValueError, match="classes"):
        prepare_dataset("tiny_shakespeare", shakespeare_root, out, classes=3)
    with pytest.raises(ValueError, match="context"):
        prepare_dataset("digits", None, out, context=16)
    assert not out.exists()


def test_token_ids_pass_through_normalize_unchanged(small):
    assert small.is_sequence and SequenceTensors.is_sequence and not DatasetTensors.is_sequence
    assert small.normalized("train", dtype=torch.float64) is small.x_train  # ids stay int64 ids
    assert torch.equal(small.normalize(small.x_test[:2]), small.x_test[:2])
    assert small.labels("test") is small.y_test and small.to("cpu").meta == small.meta
    with pytest.raises(ValueError, match="split must be one of"):
        small.labels("validation")


def test_image_datasets_share_the_input_shape_name():
    images = torch.arange(4 * 3 * 5 * 7, dtype=torch.int64).remainder(256).to(torch.uint8).view(4, 3, 5, 7)
    labels = torch.tensor([0, 1, 0, 1])
    data = DatasetTensors.from_splits("toy", images, labels, images, labels, 2, {})
    assert data.input_shape == data.image_shape == (3, 5, 7)


def test_inconsistent_windows_are_rejected(small):
    with pytest.raises(ValueError, match="shifted by one"):
        replace(small, y_train=small.y_train.roll(1, dims=1))
    with pytest.raises(ValueError, match="int64"):
        replace(small, x_train=small.x_train.int())
    with pytest.raises(ValueError, match="num_classes"):
        replace(small, num_classes=small.num_classes + 1)


def test_prepare_load_round_trip_and_byte_determinism(shakespeare_root, tmp_path):
    options = dict(context=CONTEXT, n_train=20, n_test=30)
    out = tmp_path / "prepared" / "ts.pt"
    record = prepare_dataset("tiny_shakespeare", shakespeare_root, out, **options)
    assert record["format"] == SEQUENCE_FORMAT and record["options"] == options
    assert record["shapes"]["x_train"] == [20, CONTEXT] and json.loads(sidecar_path(out).read_text()) == record
    loaded, direct = load_prepared(out), load_dataset("tiny_shakespeare", shakespeare_root, **options)
    assert isinstance(loaded, SequenceTensors) and loaded.num_classes == direct.num_classes
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(loaded, key), getattr(direct, key))
    assert {k: v for k, v in loaded.meta.items() if k != "sha256"} == direct.meta
    assert loaded.meta["sha256"] == record["sha256"]
    # The same variant from another copy of the source, to another name: the same bytes.
    again = prepare_dataset("tiny_shakespeare", shakespeare_root, tmp_path / "elsewhere" / "other.pt", **options)
    assert again["sha256"] == record["sha256"]


def test_tampered_prepared_text_file_is_refused(shakespeare_root, tmp_path):
    out = tmp_path / "ts.pt"
    record = prepare_dataset("tiny_shakespeare", shakespeare_root, out, context=CONTEXT)
    payload = bytearray(out.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    out.write_bytes(bytes(payload))
    with pytest.raises(DatasetIntegrityError, match=record["sha256"]):
        load_prepared(out)


def test_bundled_pydoc_topics_is_fixed_and_deterministic():
    from pydoc_data.topics import topics

    data = load_dataset("pydoc_topics", context=64)
    again = load_dataset("pydoc_topics")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(data, key), getattr(again, key))
    assert data.meta == again.meta
    # The documented construction: unique topic texts in sorted key order, joined by "\n".
    assert data.meta["repeated_topics_left_out"] == ["if"] and "if" not in data.meta["topics"]
    joined = "\n".join(topics[k] for k in data.meta["topics"])
    train_text, test_text = split_last_lines(joined, 2_000)
    assert data.meta["train_characters"] == len(train_text) > 300_000
    assert data.meta["test_characters"] == len(test_text) > 50_000
    assert data.decode(data.x_test[0]) == test_text[:64]
    assert "Python" in data.meta["description"] and "help()" in data.meta["description"]
    from pydoc_data import topics as module

    assert data.meta["source_files"] == {"pydoc_data/topics.py": file_sha256(module.__file__)}


def test_download_writes_the_verified_file(tmp_path, monkeypatch):
    payload = (TRAIN_TEXT + TEST_TEXT).encode()
    monkeypatch.setattr(text_module, "TINY_SHAKESPEARE_BYTES", len(payload))
    monkeypatch.setattr(text_module, "TINY_SHAKESPEARE_SHA256", hashlib.sha256(payload).hexdigest())
    calls = []
    monkeypatch.setattr(text_module, "_fetch", lambda url: calls.append(url) or payload)
    root = tmp_path / "raw"
    data = load_dataset("tiny_shakespeare", root, download=True, context=CONTEXT)
    assert calls == [text_module.TINY_SHAKESPEARE_URL]
    assert (root / "tiny_shakespeare" / "input.txt").read_bytes() == payload
    assert sorted(p.name for p in (root / "tiny_shakespeare").iterdir()) == ["input.txt"]
    assert data.meta["integrity"].startswith("the published file")
    assert data.meta["source_files"] == {"tiny_shakespeare/input.txt": hashlib.sha256(payload).hexdigest()}
    load_dataset("tiny_shakespeare", root, download=True, context=CONTEXT)
    assert len(calls) == 1, "a verified file is not fetched again"


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda b: b[:-1], r"gave 1115393 bytes"),
        (lambda b: b[:100] + b"X" + b[101:], r"sha256 [0-9a-f]{64}, but the published file"),
    ],
    ids=["size", "checksum"],
)
def test_download_with_the_wrong_bytes_writes_nothing(tmp_path, monkeypatch, corrupt, message):
    published = b"x\n" * (1_115_394 // 2)
    monkeypatch.setattr(text_module, "TINY_SHAKESPEARE_SHA256", hashlib.sha256(published).hexdigest())
    monkeypatch.setattr(text_module, "_fetch", lambda url: corrupt(published))
    root = tmp_path / "raw"
    with pytest.raises(DatasetIntegrityError, match=message):
        load_dataset("tiny_shakespeare", root, download=True)
    assert not (root / "tiny_shakespeare").exists() or list((root / "tiny_shakespeare").iterdir()) == []


def test_missing_or_foreign_file(tmp_path, shakespeare_root, monkeypatch):
    def no_network(url):
        raise AssertionError("must not download")

    monkeypatch.setattr(text_module, "_fetch", no_network)
    with pytest.raises(FileNotFoundError, match="set download: true"):
        load_dataset("tiny_shakespeare", tmp_path / "empty")
    with pytest.raises(ValueError, match="pass root"):
        load_dataset("tiny_shakespeare", None)
    # A file placed by hand is read as it is, but download: true insists on the published one.
    assert load_dataset("tiny_shakespeare", shakespeare_root, context=CONTEXT).meta["integrity"].startswith("NOT")
    with pytest.raises(DatasetIntegrityError, match="delete it"):
        load_dataset("tiny_shakespeare", shakespeare_root, download=True, context=CONTEXT)
