"""The steps Snakemake's rules run: one small module per step, looked up by the rule's name.

Every rule runs ``rules/scripts/run_rule.py``, which calls :func:`run_step`. A step module's
``run(smk, log)`` reads the ``snakemake`` object and calls into the package. Because each step is
its own module, the workflow lists exactly the package files that step imports as the rule's
inputs (:mod:`sharpness.imports`): editing one step's code reruns that step only.
"""

from __future__ import annotations

import importlib
import os
import re
import time
import traceback
from pathlib import Path

from .heartbeat import heartbeat

# rule name → step module under sharpness.pipeline
STEPS = {
    "prepare_dataset": "prepare_dataset",
    "train_prefix": "switching.train",
    "train_branch": "switching.train",
    "train_seeds": "switching.train_seeds",
    "final_sharpness": "switching.final_sharpness",
    "spectrum": "switching.spectrum",
    "collect": "switching.collect",
    "dynamics_prefix": "dynamics.train",
    "dynamics_branch": "dynamics.train",
    "dynamics_seeds": "dynamics.train_seeds",
    "dynamics_collect": "dynamics.collect",
    "toy_simulate": "toy.simulate",
    "landscape_analyse": "landscape.analyse",
    "report": "report",
    "archive": "archive",
    "checksums": "checksums",
    "claims": "claims",
    "ledger": "ledger",
}


# Rules generated once per study are named "<step>__<study>".
STUDY_RULE_SEPARATOR = "__"


def study_rule_name(step: str, study: str) -> str:
    """The name of a rule generated for one study: "<step>__<study>", as an identifier."""
    return step + STUDY_RULE_SEPARATOR + re.sub(r"\W", "_", study)


def step_module(rule: str) -> str:
    """The full name of the module that runs ``rule``."""
    return f"{__name__}.{STEPS[rule.split(STUDY_RULE_SEPARATOR)[0]]}"


def run_step(smk) -> None:
    """Run the step of ``smk.rule``, logging its progress and any traceback to ``smk.log[0]``."""
    # Small models gain nothing from intra-op threads, and parallel jobs would oversubscribe;
    # set before torch is imported by the step (torch reads it once, at import).
    os.environ["OMP_NUM_THREADS"] = str(max(1, int(smk.threads)))
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    with open(smk.log[0], "a", buffering=1) as handle, heartbeat(smk.log[0]) as pulse:

        def log(message: str) -> None:
            handle.write(message + "\n")
            pulse.note(message)

        try:
            tic = time.perf_counter()
            step = importlib.import_module(step_module(smk.rule))
            imported = time.perf_counter()
            step.run(smk, log)
            # What benchmarks/pipeline_overhead.py adds up: the work, apart from start-up.
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            log(f"step timing at {stamp}: imports {imported - tic:.3f} s, work {time.perf_counter() - imported:.3f} s")
        except BaseException:
            log(traceback.format_exc())
            raise
