# The switching study of late-sam (004), reproduced as a declarative workflow.
#
# Each seed trains every optimizer once for all T epochs ("prefix" runs), leaving a checkpoint at
# every switch epoch t. A switched run (SGD→SAM, SAM→SGD, …) resumes the first optimizer's
# checkpoint at t and continues with the second until T. Models are then measured (λmax of every
# final Hessian; full spectra of chosen checkpoints of the pure runs), collected into one labelled
# store per study, drawn, tabulated and archived.

from snakemake.utils import min_version

min_version("9.0")


# The embedded default study, unless a study config is given (--configfile configs/paper/…):
# Snakemake would otherwise merge both and run the default study too.
if "studies" not in config:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/switching.smk"
include: "rules/dynamics.smk"
include: "rules/toy.smk"
include: "rules/landscape.smk"
include: "rules/report.smk"
include: "rules/claims.smk"
include: "rules/archive.smk"


# Before the first job of a run (not a dry run, and not on a cluster's nodes): the inputs only
# the user can supply, and a GPU for a local run's CUDA studies.
onstart:
    stop_for_missing_inputs(MISSING_INPUTS)
    check_device(config, local=workflow.local_exec)
    # Model sizes against top-k and memory: they need torch, so here, not on every parse.
    from sharpness.config.model_size import check_model_sizes

    check_model_sizes(config)


rule all:
    default_target: True
    input:
        all_targets(),
