"""Which package files a module really runs: its import closure, read from the source.

Snakemake does not track modules a script imports, so each rule's code input is a digest of the
closure of its step (:mod:`sharpness.code_digest`) and it reruns when that code changes;
resumable training state carries a digest of its trainer's closure, so state written by other
code is never resumed. The closure is computed from the syntax tree (nothing is imported), so it costs a few milliseconds while the Snakefile is parsed: every ``import`` and
``from … import`` of a ``sharpness`` module, anywhere in a module, and every package
``__init__`` on the way (Python runs those too).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = "sharpness"
PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``sharpness.x.y``), or None if it is not one."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imported(node: ast.AST, module: str, is_package: bool) -> set[str]:
    """Names of the package modules one import statement loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    # `from pkg import name` loads pkg, and pkg.name too when that is a module.
    return {base} | {f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")}


def _statements(node: ast.AST):
    """Every statement of a module, nested ones included (imports are statements): walking only
    statement bodies skips the expressions, most of the tree, which keeps the Snakefile fast."""
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, field, ()):
            yield child
            yield from _statements(child)


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    """The package modules ``module`` imports, with their parent packages."""
    path = module_file(module)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in _statements(tree):
        names |= _imported(node, module, path.name == "__init__.py")
    found = set()
    for name in names:
        parts = name.split(".")
        found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return frozenset(n for n in found if module_file(n) and n != module)


def import_closure(module: str) -> list[Path]:
    """Source files of ``module``, its parent packages and everything they import, sorted."""
    return list(_closure(module))


@lru_cache(maxsize=None)
def _closure(module: str) -> tuple[Path, ...]:
    parts = module.split(".")
    todo = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(direct_imports(name))
    return tuple(sorted(module_file(name) for name in seen))
