"""The one script every rule runs: it calls the sharpness.pipeline step of the rule's name."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821
from sharpness.pipeline import run_step  # noqa: E402

run_step(snakemake)  # noqa: F821
# The step succeeded and every output is published, fsynced and closed (sharpness.atomic), so
# skip the interpreter's teardown: with torch imported it takes about 0.5 s (measured on 2
# cores), paid by every job. A failing step raised above and exits the ordinary way.
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
