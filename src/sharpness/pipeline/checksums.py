"""Rule checksums: SHA256SUMS over the verified archives of results/archive."""

from pathlib import Path

from ..archive_check import SUFFIX, write_checksums


def run(smk, log) -> None:
    # This config's archives must verify; the others present are listed only if they do. (Read
    # from the config, not params: every config runs this rule with the same inputs and params.)
    folder = Path(smk.output[0]).parent
    planned = [str(folder / f"{study}{SUFFIX}") for study in smk.config["studies"]]
    listed = write_checksums(planned, smk.output[0], log)
    log(f"listed {len(listed)} verified archives: {listed}")
