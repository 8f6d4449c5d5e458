"""The one script every rule runs: it calls the sharpness.pipeline step of the rule's name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821
from sharpness.pipeline import run_step  # noqa: E402

run_step(snakemake)  # noqa: F821
