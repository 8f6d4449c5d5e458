"""The documentation site (mkdocs.yml, `make docs`) builds strictly and offline, its API pages
carry the package's docstrings, every docs page is in the navigation, and every relative link of
the README and the docs names a file that exists."""

from __future__ import annotations

import ast
import html
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = Path(sys.executable).with_name("mkdocs")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    build = subprocess.run([str(MKDOCS), "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    return site


def page_text(path: Path) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", path.read_text())).split())


def first_sentence(source: str, name: str) -> str:
    """The first sentence of the docstring of top-level ``name`` in a module's source, as
    rendered text (code spans lose their backticks)."""
    node = next(n for n in ast.parse(source).body if getattr(n, "name", None) == name)
    return " ".join(re.split(r"(?<=\.)\s", ast.get_docstring(node))[0].replace("`", "").split())


@pytest.mark.parametrize("page, module, name", [
    ("optim", "optim/sam.py", "SAM"),
    ("spectrum", "spectrum/operator.py", "HessianOperator"),
    ("theory", "theory/edges.py", "gd_edge"),
    ("claims", "claims/evidence.py", "Estimate"),
    ("plan", "plan.py", "plan"),
])
def test_the_api_reference_is_generated_from_the_docstrings(site, page, module, name):
    docstring = first_sentence((ROOT / "src/sharpness" / module).read_text(), name)
    assert docstring and docstring in page_text(site / f"reference/{page}.html")


def test_sphinx_roles_in_docstrings_read_as_code(site):
    roles = runpy.run_path(str(DOCS / "sphinx_roles.py"))  # writes no __pycache__ into docs/
    assert roles["ROLE"].sub(roles["shown"], "see :class:`~a.b.C` and :func:`f`") == "see `C` and `f`"
    pages = sorted((site / "reference").glob("*.html"))
    assert pages and not [p.name for p in pages if re.search(r":(class|func|mod|meth):", page_text(p))]


def test_the_site_loads_nothing_from_the_network(site):
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//")
    assert not [p.name for p in site.rglob("*.html") if remote.search(p.read_text())]


def nav_pages(entries) -> set[str]:
    return {page for entry in entries for value in entry.values()
            for page in (nav_pages(value) if isinstance(value, list) else {value})}


def test_every_docs_page_is_in_the_navigation():
    nav = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert nav == {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}


@pytest.mark.parametrize("document", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md"))])
def test_relative_links_name_files_that_exist(document):
    """mkdocs checks links between docs pages only; this also covers the README's links into docs/."""
    path = ROOT / document
    targets = re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", path.read_text())
    broken = [t for t in targets if not re.match(r"[a-z]+:", t) and not (path.parent / t).exists()]
    assert not broken, broken
