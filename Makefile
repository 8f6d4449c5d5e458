# Two commands on a fresh machine: `make run` (default study) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The SLURM executor plugin for tests/test_slurm.py only, outside the venv's site-packages:
# every snakemake call imports each installed executor plugin, and this one probes the SLURM
# daemons on import (pyproject.toml: the `slurm` extra is how users install it).
SLURM_PLUGIN := $(VENV)/slurm-plugin

.PHONY: run test lint docs dry-run clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	# The CUDA build of torch that lies on this machine's disk; it runs on the CPU too.
	$(BIN)/pip install -qq torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -qq -e '.[test]'
	touch $(STAMP)

$(SLURM_PLUGIN)/.installed: $(STAMP)
	$(BIN)/pip install -qq --no-deps --target $(SLURM_PLUGIN) 'snakemake-executor-plugin-slurm>=2.1,<3' 'snakemake-executor-plugin-slurm-jobstep<1'
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/default

test: $(STAMP) $(SLURM_PLUGIN)/.installed
	SHARPNESS_SLURM_PLUGIN=$(CURDIR)/$(SLURM_PLUGIN) $(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules

# The documentation site (mkdocs.yml) into site/, offline; --strict fails on any warning,
# a broken link or a docstring mkdocstrings cannot read.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict -d site

# The plan as jobs per rule (a full dry run lists every job with its inputs and outputs).
dry-run: $(STAMP)
	$(BIN)/snakemake -n --quiet rules --profile profiles/default

clean-results:
	rm -rf results logs .snakemake
