"""Rule archive: a study's store, config and provenance in one tarball."""

import json

from ..store.archive import write_archive


def run(smk, log) -> None:
    members = write_archive(smk.output[0], smk.input.store, json.loads(smk.params.study), smk.wildcards.study)
    log(f"archived {members}")
