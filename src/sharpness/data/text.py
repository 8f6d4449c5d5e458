"""Character-level language-modelling data: a text split by lines, cut into next-character windows.

A text becomes a stream of token ids, one per character (Unicode code point), numbered by the
sorted characters of the *training* text. Each split's stream is cut into windows of
``context + 1`` consecutive tokens that share their boundary token, window ``i`` covering tokens
``[i * context, (i + 1) * context]``; its first ``context`` tokens are the input ``x`` and its last
``context`` tokens the targets ``y``, so ``y`` is ``x`` shifted by one character and every token
but the first of a split is predicted exactly once.

Two sources: ``tiny_shakespeare`` (Karpathy's char-rnn file, the sam-eos Transformer data, with
its last 10,000 lines held out as sam-eos did) and ``pydoc_topics`` (the help texts that ship with
Python, for runs at CPU scale where nothing can be downloaded).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..atomic import atomic_write
from .errors import DatasetIntegrityError
from .hashing import file_sha256
from .tensors import SPLITS, TrainTestSplits

__all__ = [
    "DEFAULT_CONTEXT",
    "SequenceTensors",
    "encode_text",
    "load_pydoc_topics",
    "load_tiny_shakespeare",
    "split_last_lines",
]

DEFAULT_CONTEXT = 64  # the sam-eos sequence length

WINDOW_RULE = (
    "each split's token stream is cut into windows of context + 1 tokens; window i covers tokens "
    "[i*context, (i+1)*context], x is its first context tokens and y its last context tokens "
    "(x shifted by one); the incomplete tail of a split is dropped"
)
UNKNOWN_RULE = (
    "ids number the sorted distinct characters of the training text; a test character that is not "
    "among them maps to the one reserved id len(vocabulary) (num_classes is then len(vocabulary) + 1); "
    "if the test text has no such character no id is reserved and num_classes = len(vocabulary)"
)
# What decode() prints for the reserved unknown id.
UNKNOWN_CHARACTER = "\ufffd"

# Karpathy's char-rnn data file. Its size and SHA-256 are the ones TensorFlow Datasets publishes
# for this URL in tensorflow_datasets/datasets/tiny_shakespeare/checksums.tsv
# (1115394 bytes, 86c4e6aa…65ed); the same hash is quoted by other projects that pin this file.
TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_FILE = Path("tiny_shakespeare") / "input.txt"
TINY_SHAKESPEARE_BYTES = 1_115_394
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_TEST_LINES = 10_000  # sam-eos: "The last 10000 lines ... were set aside as a test set"

# About the last 18% of the characters (85 KB of 464 KB with Python 3.11.7); whole lines, as for
# tiny_shakespeare, so that one split rule serves both.
PYDOC_TOPICS_TEST_LINES = 2_000


@dataclass(frozen=True)
class SequenceTensors(TrainTestSplits):
    """Train and test windows of token ids, used by the training loop like :class:`DatasetTensors`.

    ``x_*`` and ``y_*`` are int64 (N, context); ``num_classes`` is the number of token ids.
    ``meta`` is plain data and must hold ``vocabulary`` (the sorted characters of the training
    text, id i being ``vocabulary[i]``) and ``unknown_id`` (the reserved id, or None).
    """

    x_train: torch.Tensor  # int64 (N, context)
    y_train: torch.Tensor  # int64 (N, context), x_train shifted by one token
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str
    meta: dict = field(default_factory=dict)

    # Lets the loop tell token windows from images without importing this class.
    is_sequence: ClassVar[bool] = True

    def __post_init__(self) -> None:
        vocabulary = self.meta.get("vocabulary")
        if not isinstance(vocabulary, list) or not all(isinstance(c, str) and len(c) == 1 for c in vocabulary):
            raise ValueError("meta['vocabulary'] must be the list of characters that the token ids number")
        unknown_id = self.meta.get("unknown_id")
        expected = len(vocabulary) + (unknown_id is not None)
        if unknown_id is not None and unknown_id != len(vocabulary):
            raise ValueError(
                f"meta['unknown_id'] must be None or len(vocabulary) = {len(vocabulary)}, got {unknown_id!r}"
            )
        if self.num_classes != expected:
            raise ValueError(
                f"num_classes must be {expected} for a vocabulary of {len(vocabulary)} characters, "
                f"got {self.num_classes}"
            )
        for split in SPLITS:
            _check_windows(split, *self.split(split), self.num_classes)
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(
                f"train windows have context {self.x_train.shape[1]} but test windows {self.x_test.shape[1]}"
            )

    @classmethod
    def from_text(cls, name: str, train_text: str, test_text: str, context: int, meta: dict) -> "SequenceTensors":
        """Number the characters of ``train_text``, encode both texts and cut them into windows."""
        context = _check_context(context)
        vocabulary = sorted(set(train_text))
        unknown = sorted(set(test_text) - set(vocabulary))
        unknown_id = len(vocabulary) if unknown else None
        train_ids = encode_text(train_text, vocabulary)
        test_ids = encode_text(test_text, vocabulary, unknown_id=unknown_id)
        for split, ids in (("train", train_ids), ("test", test_ids)):
            if len(ids) < context + 1:
                raise ValueError(
                    f"context={context} needs at least {context + 1} characters per split, "
                    f"but the {split} text of {name} has {len(ids)}"
                )
        meta = dict(
            meta,
            context=context,
            windows=WINDOW_RULE,
            tokens="one token per character (Unicode code point) of the UTF-8 decoded text",
            vocabulary=vocabulary,
            unknown_id=unknown_id,
            unknown_characters=unknown,
            unknown_rule=UNKNOWN_RULE,
            train_characters=len(train_text),
            test_characters=len(test_text),
        )
        num_classes = len(vocabulary) + bool(unknown)
        return cls(*_windows(train_ids, context), *_windows(test_ids, context), num_classes, name, meta)

    @property
    def context(self) -> int:
        """Tokens per window."""
        return int(self.x_train.shape[1])

    @property
    def input_shape(self) -> tuple[int]:
        """``(context,)``: the shape of one example, what the model builders take."""
        return (self.context,)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The characters that ids ``0 .. len(vocabulary) - 1`` stand for, in sorted order."""
        return tuple(self.meta["vocabulary"])

    @property
    def unknown_id(self) -> int | None:
        """The id test characters outside the vocabulary map to, or None if there are none."""
        return self.meta["unknown_id"]

    def normalize(self, tokens: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The token ids unchanged, as int64 (the same tensor, not a copy): an embedding indexes with them.

        ``dtype`` is accepted so that the loop can call images and text alike, and is ignored:
        ids are never converted to floating point.
        """
        return tokens.to(torch.int64)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """The text a 1-D sequence of ids stands for; the unknown id prints as U+FFFD."""
        ids = torch.as_tensor(ids).reshape(-1).tolist()
        symbols = [*self.vocabulary, UNKNOWN_CHARACTER] if self.unknown_id is not None else list(self.vocabulary)
        bad = [i for i in ids if not 0 <= i < len(symbols)]
        if bad:
            raise ValueError(f"ids must lie in 0..{len(symbols) - 1}, got {bad[:5]}")
        return "".join(symbols[i] for i in ids)


def encode_text(text: str, vocabulary: Sequence[str], unknown_id: int | None = None) -> torch.Tensor:
    """int64 id of each character of ``text``: its index in the sorted ``vocabulary``.

    Characters outside the vocabulary get ``unknown_id``; with ``unknown_id=None`` they are an
    error naming them.
    """
    # Code points as a little-endian uint32 array: vectorised lookup instead of a 1M-step loop.
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    table = np.array([ord(c) for c in vocabulary], dtype=np.int64)
    if len(table) and np.any(np.diff(table) <= 0):
        raise ValueError("vocabulary must be sorted and free of repeats")
    ids = np.searchsorted(table, points)
    known = ids < len(table)
    known[known] = table[ids[known]] == points[known]
    if not known.all():
        if unknown_id is None:
            missing = sorted({chr(p) for p in points[~known]})
            raise ValueError(f"characters outside the vocabulary: {missing[:10]!r}")
        ids[~known] = unknown_id
    return torch.from_numpy(ids)


def split_last_lines(text: str, n_lines: int) -> tuple[str, str]:
    """``text`` cut before its last ``n_lines`` lines: (everything before, those lines).

    A line is a run of characters ended by ``"\\n"`` (kept with it) or by the end of the text;
    no other character ends a line, so the cut does not depend on platform newline handling.
    """
    pieces = text.split("\n")
    # A text ending in "\n" splits into a last, empty piece that is not a line.
    n_total = len(pieces) - (pieces[-1] == "")
    if not 0 < n_lines < n_total:
        raise ValueError(f"cannot hold out the last {n_lines} lines of a text of {n_total} lines")
    cut = sum(len(piece) + 1 for piece in pieces[: n_total - n_lines])
    return text[:cut], text[cut:]


def load_tiny_shakespeare(
    root: str | os.PathLike | None, download: bool = False, context: int = DEFAULT_CONTEXT
) -> SequenceTensors:
    """Tiny Shakespeare from ``<root>/tiny_shakespeare/input.txt``; the last 10,000 lines are the test text.

    With ``download`` a missing file is fetched from :data:`TINY_SHAKESPEARE_URL` and must have
    the published size and SHA-256 before it is put in place; an existing file that is not the
    published one is then refused rather than overwritten. Without ``download`` the file is read
    as it is (a local copy, or a test fixture), and ``meta["integrity"]`` says whether it is the
    published file.
    """
    if root is None:
        raise ValueError("tiny_shakespeare is read from a file: pass root, the directory that holds (or will hold) it")
    path = Path(root) / TINY_SHAKESPEARE_FILE
    if download and not path.is_file():
        _download_verified(TINY_SHAKESPEARE_URL, path, TINY_SHAKESPEARE_BYTES, TINY_SHAKESPEARE_SHA256)
    if not path.is_file():
        raise FileNotFoundError(
            f"tiny_shakespeare: did not find {path}; set download: true to fetch it into {Path(root)}, "
            f"or place Karpathy's input.txt there"
        )
    sha256 = file_sha256(path)
    published = sha256 == TINY_SHAKESPEARE_SHA256
    if download and not published:
        raise DatasetIntegrityError(
            f"{path} has sha256 {sha256}, not the published {TINY_SHAKESPEARE_SHA256}: "
            "delete it to download the original, or load with download: false to use it as it is"
        )
    text = path.read_bytes().decode("utf-8")
    train_text, test_text = split_last_lines(text, TINY_SHAKESPEARE_TEST_LINES)
    meta = {
        "source": f"Karpathy's char-rnn tinyshakespeare/input.txt ({TINY_SHAKESPEARE_URL})",
        "description": (
            "Tiny Shakespeare: about 40,000 lines from Shakespeare's plays (Karpathy's char-rnn file), as characters"
        ),
        "source_files": {TINY_SHAKESPEARE_FILE.as_posix(): sha256},
        "integrity": (
            "the published file (sha256 as in TensorFlow Datasets' checksums)"
            if published
            else "NOT the published file: its sha256 differs from TensorFlow Datasets' checksum"
        ),
        "split": (
            f"the last {TINY_SHAKESPEARE_TEST_LINES} lines are the test text, the rest the training text (sam-eos)"
        ),
    }
    return SequenceTensors.from_text("tiny_shakespeare", train_text, test_text, context, meta)


def load_pydoc_topics(
    root: str | os.PathLike | None = None, download: bool = False, context: int = DEFAULT_CONTEXT
) -> SequenceTensors:
    """Python's own ``help()`` topic texts, in sorted topic order; the last 2,000 lines are the test text.

    ``root`` and ``download`` are unused: the text ships with Python as
    ``pydoc_data/topics.py``. That file is regenerated for each Python release, so the Python
    version and the file's SHA-256 are recorded. A topic whose text repeats an earlier one
    (``if`` repeats ``else``) is left out so that no text is in both splits.
    """
    from pydoc_data.topics import topics

    keys, texts, repeated, seen = [], [], [], set()
    for key in sorted(topics):
        if topics[key] in seen:
            repeated.append(key)
            continue
        seen.add(topics[key])
        keys.append(key)
        texts.append(topics[key])
    # Each topic ends in "\n"; the extra "\n" leaves a blank line between topics, as help() shows them.
    text = "\n".join(texts)
    train_text, test_text = split_last_lines(text, PYDOC_TOPICS_TEST_LINES)
    version = ".".join(map(str, sys.version_info[:3]))
    meta = {
        "source": "pydoc_data.topics.topics of the Python standard library",
        "description": (
            f"the help texts of Python {version}'s help() (its language reference on statements, "
            "expressions, data types and special methods), as characters"
        ),
        "python_version": version,
        "source_files": {"pydoc_data/topics.py": _pydoc_topics_sha256()},
        "topics": keys,
        "repeated_topics_left_out": repeated,
        "joined": "topic texts in sorted key order joined with '\\n' (a blank line between topics)",
        "split": f"the last {PYDOC_TOPICS_TEST_LINES} lines are the test text, the rest the training text",
    }
    return SequenceTensors.from_text("pydoc_topics", train_text, test_text, context, meta)


def _windows(ids: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = (len(ids) - 1) // context
    x = ids[: n * context].reshape(n, context)
    y = ids[1 : n * context + 1].reshape(n, context)
    return x.contiguous(), y.contiguous()


def _check_context(context) -> int:
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ValueError(f"context must be a positive integer (tokens per window), got {context!r}")
    return context


def _check_windows(split: str, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    for name, t in ((f"x_{split}", x), (f"y_{split}", y)):
        if t.dtype != torch.int64 or t.dim() != 2:
            raise ValueError(f"{name} must be an int64 (N, context) tensor, got {t.dtype} {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got {int(t.min())}..{int(t.max())}")
    if x.shape != y.shape:
        raise ValueError(f"x_{split} is {tuple(x.shape)} but y_{split} is {tuple(y.shape)}")
    if not torch.equal(x[:, 1:], y[:, :-1]):
        raise ValueError(f"y_{split} must be x_{split} shifted by one token")


def _fetch(url: str) -> bytes:
    """The bytes at ``url`` (a module-level function so tests can stand in for the network)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _download_verified(url: str, path: Path, size: int, sha256: str) -> None:
    """Fetch ``url`` and write it to ``path`` atomically, only if it has the published size and hash."""
    payload = _fetch(url)
    got = hashlib.sha256(payload).hexdigest()
    if len(payload) != size or got != sha256:
        raise DatasetIntegrityError(
            f"download of {url} gave {len(payload)} bytes with sha256 {got}, but the published file has "
            f"{size} bytes and sha256 {sha256}; nothing was written to {path}"
        )
    with atomic_write(path) as f:
        f.write(payload)


def _pydoc_topics_sha256() -> str:
    resource = importlib.resources.files("pydoc_data") / "topics.py"
    with importlib.resources.as_file(resource) as path:
        return file_sha256(path)
