"""The project explains itself: its catalogue (docs/experiments.md) is generated and up to date,
names every id with its paper, every shipped study says what it is, and nothing points outside
the repository."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sharpness.catalog import FIGURES, TABLES
from sharpness.cli import main
from sharpness.experiments import PAPERS, markdown, source

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "docs/experiments.md"


def test_the_catalogue_is_up_to_date():
    assert CATALOGUE.read_text() == markdown(ROOT), "regenerate: sharpness catalog --markdown docs/experiments.md"


def test_the_catalogue_names_every_id_with_its_paper_and_config():
    text = CATALOGUE.read_text()
    sections = dict(re.findall(r"^## (\S+): .*\n((?:(?!^## ).*\n)*)", text, flags=re.M))
    assert set(sections) == set(FIGURES) | set(TABLES)
    for exp_id, body in sections.items():
        paper, _ = source(exp_id)
        assert f"arXiv:{PAPERS[paper].arxiv}" in body and "configs/paper/" in body, exp_id
    assert all(f"arxiv.org/abs/{p.arxiv}" in text for p in PAPERS.values())


def test_the_cli_writes_the_catalogue(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["catalog", "--markdown", str(tmp_path / "docs/experiments.md")]) == 0
    assert (tmp_path / "docs/experiments.md").read_text() == CATALOGUE.read_text()


def test_ids_name_their_paper_and_figure():
    assert source("LS-F4a") == ("late-sam", "Fig. 4a") and source("ES-T2") == ("eigen-sam", "Table 2")
    assert source("LB-F12") == ("sam-eos", "Fig. 12") and source("BR-F1") == ("ravines", "Fig. 1")


def test_every_shipped_study_has_a_description():
    missing = [f"{path.name}:{name}" for path in [ROOT / "config.yaml", *sorted((ROOT / "configs").rglob("*.yaml"))]
               for name, study in yaml.safe_load(path.read_text())["studies"].items() if not str(study.get("description", "")).strip()]
    assert not missing, missing


def test_nothing_refers_outside_the_repository():
    files = [ROOT / "Snakefile", ROOT / "config.yaml", ROOT / "README.md", ROOT / "mkdocs.yml", *(ROOT / "docs").rglob("*.md"), *(ROOT / "rules").rglob("*"),
             *(ROOT / "configs").rglob("*.yaml"), *(ROOT / "src/sharpness").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in files if p.is_file() and re.search(r"\.\./shared|shared/(EXPERIMENTS|DESIGN|papers)", p.read_text())]
    assert not offenders, offenders
