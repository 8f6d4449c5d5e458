"""Rule archive: a study's store, figure numbers, tables, config and provenance in one tarball."""

import json

from ..store.archive import write_archive


def run(smk, log) -> None:
    members = write_archive(
        smk.output[0], smk.input.store, list(smk.input.figures), list(smk.input.tables), json.loads(smk.params.study), smk.wildcards.study
    )
    log(f"archived {members}")
