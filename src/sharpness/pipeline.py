"""What each Snakemake rule does, as one function per rule taking the ``snakemake`` object.

Rules run ``rules/scripts/run_rule.py``, which calls :func:`run_step`; the step is chosen by the
rule's name. Every step writes its progress and any traceback to the rule's log file.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path


def _logger(path: str):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a", buffering=1)

    def log(message: str) -> None:
        handle.write(message + "\n")

    return log, handle


def prepare_dataset(smk, log) -> None:
    from .data import prepare_dataset as prepare

    spec = json.loads(smk.params.spec)
    name = spec.pop("name")
    record = prepare(name, smk.params.root, smk.output.tensors, **spec)
    log(f"prepared {name} {spec}: sha256 {record['sha256']}, shapes {record['shapes']}")


def train(smk, log) -> None:
    from .train import RunSpec, train_job

    spec = RunSpec.from_dict(json.loads(smk.params.spec))
    start_from = None
    keep = {}
    if smk.rule == "train_branch":
        start_from = str(Path(smk.input.checkpoints) / f"epoch{smk.params.start_epoch}.pt")
    else:
        Path(smk.output.checkpoints).mkdir(parents=True, exist_ok=True)
        keep = {t: str(Path(smk.output.checkpoints) / f"epoch{t}.pt") for t in smk.params.keep}
    train_job(
        spec,
        data_path=smk.input.data,
        state_dir=smk.params.state_dir,
        final_checkpoint=smk.output.final,
        run_netcdf=smk.output.run,
        keep=keep,
        start_from=start_from,
        config_slice=spec.to_dict(),
        log=log,
    )


def final_sharpness(smk, log) -> None:
    from .measure import final_spectra

    seed_dir = Path(smk.output[0]).parent
    runs = [str(Path(p).parent.relative_to(seed_dir)) for p in smk.input.runs]
    final_spectra(seed_dir, runs, smk.input.data, json.loads(smk.params.settings), smk.output[0], log=log)


def spectrum(smk, log) -> None:
    from .measure import checkpoint_spectra

    settings = json.loads(smk.params.settings)
    run_dir = Path(smk.output[0]).parent
    checkpoint_spectra(run_dir, sorted(settings["epochs"]), smk.input.data, settings, smk.output[0], log=log)


def collect(smk, log) -> None:
    from .store import write_atomic
    from .store.study import collect_switching_study

    study_dir = Path(smk.output[0]).parent
    ds = collect_switching_study(study_dir, json.loads(smk.params.study))
    write_atomic(ds, smk.output[0])
    log(f"collected {dict(ds.sizes)}; epochs_trained={ds.attrs['epochs_trained']} epochs_naive={ds.attrs['epochs_naive']}")


def figure_data(smk, log) -> None:
    from .report import write_figure_data

    write_figure_data(smk.wildcards.fig_id, list(smk.input.stores), json.loads(smk.params.options), smk.output[0])
    log(f"wrote the numbers of {smk.wildcards.fig_id}")


def figure(smk, log) -> None:
    from .report import draw_figure

    draw_figure(smk.wildcards.fig_id, smk.input.data, json.loads(smk.params.style), list(smk.output))
    log(f"drew {smk.wildcards.fig_id}: {list(smk.output)}")


def table(smk, log) -> None:
    from .report import write_table

    write_table(smk.wildcards.fig_id, list(smk.input.stores), json.loads(smk.params.options), smk.output.csv, smk.output.md)
    log(f"wrote table {smk.wildcards.fig_id}")


def archive(smk, log) -> None:
    from .store.archive import write_archive

    members = write_archive(
        smk.output[0], smk.input.store, list(smk.input.figures), list(smk.input.tables), json.loads(smk.params.study), smk.wildcards.study
    )
    log(f"archived {members}")


STEPS = {
    "prepare_dataset": prepare_dataset,
    "train_prefix": train,
    "train_branch": train,
    "final_sharpness": final_sharpness,
    "spectrum": spectrum,
    "collect": collect,
    "figure_data": figure_data,
    "figure": figure,
    "table": table,
    "archive": archive,
}


def run_step(smk) -> None:
    """Run the step named after ``smk.rule``, logging to ``smk.log[0]``."""
    log, handle = _logger(smk.log[0])
    import torch

    # Small models gain nothing from intra-op threads, and parallel jobs would oversubscribe.
    torch.set_num_threads(max(1, int(smk.threads)))
    try:
        STEPS[smk.rule](smk, log)
    except BaseException:
        log(traceback.format_exc())
        raise
    finally:
        handle.close()
