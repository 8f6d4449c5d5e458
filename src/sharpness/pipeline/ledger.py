"""Rule ledger: the per-id claim files of every run in one namespace, as one ledger (netCDF and
markdown)."""

from ..atomic import atomic_write
from ..claims.ledger import assemble
from ..claims.markdown import render_markdown
from ..store import write_atomic


def run(smk, log) -> None:
    ledger = assemble([str(p) for p in smk.input.claims])
    write_atomic(ledger, smk.output.nc)
    with atomic_write(smk.output.md, "w") as f:
        f.write(render_markdown(ledger))
    counts = ledger.verdict.to_series().value_counts()
    log(f"ledger of {ledger.sizes['row']} rows from {len(smk.input.claims)} files: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
