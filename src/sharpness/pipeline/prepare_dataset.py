"""Rule prepare_dataset: one dataset variant as a checksummed tensor file."""

import json

from ..data import prepare_dataset


def run(smk, log) -> None:
    spec = json.loads(smk.params.spec)
    name = spec.pop("name")
    record = prepare_dataset(name, smk.params.root, smk.output.tensors, **spec)
    log(f"prepared {name} {spec}: sha256 {record['sha256']}, shapes {record['shapes']}")
