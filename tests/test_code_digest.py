"""A step's code digest changes with its code, not with its comments, docstrings or layout."""

from __future__ import annotations

import os

from sharpness.code_digest import closure_files, code_tree, files_digest, write_digest

SOURCE = '''"""Module docstring."""
import math


def step(x, rho=0.05):
    """Function docstring."""
    return x * math.sqrt(rho)  # a comment
'''


def test_comments_docstrings_and_layout_are_not_code():
    edited = (SOURCE.replace("Module docstring.", "Another module docstring, longer.")
              .replace('"""Function docstring."""', '"""Edited.\n\n    Two paragraphs now.\n    """')
              .replace("# a comment", "# another comment") + "\n\n# a trailing comment\n")
    reformatted = SOURCE.replace("x * math.sqrt(rho)", "(x\n            * math.sqrt(rho))")
    assert code_tree(edited) == code_tree(SOURCE) == code_tree(reformatted)


def test_a_statement_change_is_code():
    for changed in (SOURCE.replace("0.05", "0.1"), SOURCE.replace("x * math", "x / math"),
                    SOURCE + "\nEXTRA = 1\n", SOURCE.replace("import math", "import math, cmath")):
        assert code_tree(changed) != code_tree(SOURCE)


def test_the_digest_file_is_rewritten_only_when_the_code_changes(tmp_path):
    target = tmp_path / "code/train_prefix.sha256"
    modules = ["sharpness.optim.sam"]
    assert write_digest(target, modules) == str(target)
    # Written for the first time: dated by its newest source file, not by now, so results made
    # by that code before the file existed are not rerun.
    assert target.stat().st_mtime_ns == max(p.stat().st_mtime_ns for p in closure_files(modules))
    os.utime(target, ns=(1, 1))
    write_digest(target, modules)
    assert target.stat().st_mtime_ns == 1, "same code: the file is left alone"
    target.write_text("stale\n")
    write_digest(target, modules)
    assert target.read_text().split("\n")[0] == files_digest(closure_files(modules))
    assert target.stat().st_mtime_ns > 1
