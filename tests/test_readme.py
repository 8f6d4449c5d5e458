"""Every Python block of the README and of the docs pages runs as written, each on its own
(reference listings of signatures are fenced as ``text``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [(path.relative_to(ROOT).as_posix(), index + 1, block) for path in DOCUMENTS
          for index, block in enumerate(re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.M | re.S))]


def test_the_docs_have_python_blocks():
    assert BLOCKS


@pytest.mark.parametrize("document, number, block", BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_a_python_block_runs(document, number, block, one_torch_thread):
    exec(compile(block, f"{document} python block {number}", "exec"), {"__name__": "readme"})
