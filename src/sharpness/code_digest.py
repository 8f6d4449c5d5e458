"""What a step's code is, as one digest that changes only when the code does.

Snakemake reruns a job when an input is newer than its outputs. Listing a step's ~40 source files
as inputs reran every job that imports ``optim/sam.py`` after a comment was fixed there, and
filled the console with their paths. Instead each step has one digest file: a SHA-256 over the
*syntax trees* of its import closure (:mod:`sharpness.imports`), with docstrings and other bare
string statements removed and without line numbers (``ast.dump``). Comments, docstrings and
formatting leave it unchanged; any statement change changes it. The workflow writes the file
while the Snakefile is read, and only when the digest differs, so its modification time is the
time its code last changed; it is the rule's single code input, under a relative path (moving
the project folder reruns nothing).

The resumable training state carries a digest of the same kind over its trainer's closure
(:func:`sharpness.train.checkpoint.code_digest`), so both agree on what counts as a code change.
A new Python version may dump the same code differently: that reruns everything once.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .imports import PACKAGE_DIR, import_closure

_BODIES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _is_bare_string(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def code_tree(source: str, filename: str = "<source>") -> str:
    """The module's syntax tree as text, without docstrings, comments or positions."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, field, [stmt for stmt in body if not _is_bare_string(stmt)])
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


@lru_cache(maxsize=None)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(code_tree(path.read_text(), str(path)).encode()).hexdigest()


def source_digest(path: Path) -> str:
    """SHA-256 of one source file's code (cached while the file is unchanged on disk)."""
    stat = path.stat()
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


def files_digest(paths: Iterable[Path]) -> str:
    """SHA-256 over package files: each one's path inside the package and its code digest."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(source_digest(path).encode() + b"\n")
    return digest.hexdigest()


def closure_files(modules: Iterable[str]) -> list[Path]:
    """The package files the modules run, together."""
    return sorted({path for module in modules for path in import_closure(module)})


def write_digest(target: str | os.PathLike, modules: Iterable[str]) -> str:
    """Write the code digest of ``modules`` to ``target`` unless it already holds it; return the
    path as given. A new file takes the time of its newest source file, the last time its code
    can have changed, so that results made by that code do not rerun when the file first appears."""
    target = Path(target)
    sources = closure_files(modules)
    text = "\n".join([files_digest(sources), *(p.relative_to(PACKAGE_DIR).as_posix() for p in sources)]) + "\n"
    try:
        if target.read_text() == text:
            return str(target)
        new = False
    except FileNotFoundError:
        new = True
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    if new:
        newest = max(p.stat().st_mtime_ns for p in sources)
        os.utime(temporary, ns=(newest, newest))
    os.replace(temporary, target)  # concurrent readers of the Snakefile see one whole file
    return str(target)
