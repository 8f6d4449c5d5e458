"""Module boundaries and the code each rule depends on, read from the import graph."""

from __future__ import annotations

import ast

import pytest

from sharpness.imports import PACKAGE_DIR, direct_imports, import_closure
from sharpness.pipeline import STEPS, step_module


def _closure(module: str) -> set[str]:
    return {path.relative_to(PACKAGE_DIR).as_posix() for path in import_closure(module)}


def _modules(package: str) -> list[str]:
    base = PACKAGE_DIR / package
    return [f"sharpness.{package}." + p.relative_to(base).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
            for p in sorted(base.rglob("*.py"))]


@pytest.mark.parametrize("layer, forbidden", [("config", ("train/", "report/", "store/")), ("store", ("train/", "report/"))])
def test_lower_layers_do_not_import_upper_ones(layer, forbidden):
    for module in _modules(layer):
        bad = [f for f in _closure(module) if f.startswith(forbidden)]
        assert not bad, f"{module} imports {bad}"


def test_no_package_import_hides_inside_a_function():
    """Imports of our own modules sit at module level: an import inside a function to break a
    cycle would mean the layering is wrong (third-party lazy imports are fine)."""
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("sharpness")):
                        offenders.append(f"{path.relative_to(PACKAGE_DIR)}:{inner.lineno}")
    assert not offenders, offenders


def test_every_rule_names_a_step_module():
    for rule in STEPS:
        assert (PACKAGE_DIR / step_module(rule).removeprefix("sharpness.").replace(".", "/")).with_suffix(".py").is_file(), rule


@pytest.mark.parametrize(
    "rule, needs, must_not",
    [
        ("train_prefix", {"train/loop.py", "optim/sam.py", "runspec.py"}, ("report/", "train/dynamics.py", "store/archive.py", "store/switching.py", "spectrum/", "config/")),
        ("dynamics_prefix", {"train/dynamics.py", "train/tracking.py", "spectrum/ntk.py"}, ("report/", "train/hessian.py", "store/archive.py", "config/")),
        ("final_sharpness", {"train/hessian.py", "spectrum/lanczos.py"}, ("report/", "train/dynamics.py", "store/archive.py")),
        ("collect", {"store/switching.py", "config/switching.py"}, ("train/", "report/", "spectrum/")),
        ("dynamics_collect", {"store/dynamics.py"}, ("train/", "report/", "spectrum/")),
        ("archive", {"store/archive.py"}, ("train/", "report/", "config/", "data/")),
        ("toy_simulate", {"toys/quadratic_regression.py", "store/toy.py"}, ("train/", "spectrum/", "models/", "data/", "report/")),
        ("landscape_analyse", {"train/landscape.py", "store/landscape.py"}, ("report/", "train/dynamics.py", "toys/")),
        # A report job's own module is added per job (rules/common.smk: report_code).
        ("report", {"report/__init__.py", "report/draw.py", "report/style.py"}, ("train/", "report/switching.py", "report/dynamics.py", "spectrum/")),
        ("train_seeds", {"train/loop.py", "train/job.py"}, ("report/", "train/dynamics.py", "store/switching.py", "spectrum/", "config/")),
    ],
)
def test_step_code_is_what_the_step_imports(rule, needs, must_not):
    files = _closure(step_module(rule))
    assert needs <= files, needs - files
    assert not [f for f in files if f.startswith(must_not)], [f for f in files if f.startswith(must_not)]


def test_imports_are_resolved_relative_and_absolute():
    assert {"sharpness.train.checkpoint", "sharpness.train.loop", "sharpness.data"} <= direct_imports("sharpness.train.job")
    assert "sharpness.spectrum.operator" in direct_imports("sharpness.spectrum.api")  # absolute imports


def test_statement_walk_finds_every_import_a_full_tree_walk_finds():
    """direct_imports walks statement bodies only (for speed); no import may hide from it."""
    from sharpness.imports import _statements

    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        every = {id(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
        seen = {id(n) for n in _statements(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
        assert every == seen, path
    nested = ast.parse("try:\n    pass\nexcept E:\n    import a\nelse:\n    import b\nfinally:\n    import c\n"
                       "match x:\n    case 1:\n        import d\nclass K:\n    def f(self):\n        with g:\n            import e\n")
    assert sorted(n.names[0].name for n in _statements(nested) if isinstance(n, ast.Import)) == list("abcde")
