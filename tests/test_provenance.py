"""Provenance attributes: every result names the code, the packages and the arithmetic."""

import json

from sharpness.store.provenance import cpu_description, provenance_attrs


def test_provenance_names_revision_packages_cpu_and_settings():
    attrs = provenance_attrs({"lr": 0.1}, run_spec={"seed": 3}, note="plain")
    assert set(attrs) >= {"git_revision", "package_versions", "host", "cpu", "slurm_job_id", "config", "run_spec"}
    assert json.loads(attrs["config"]) == {"lr": 0.1} and json.loads(attrs["run_spec"]) == {"seed": 3}
    assert attrs["note"] == "plain", "strings are stored as they are, everything else as JSON"
    assert all(isinstance(v, str) for v in attrs.values()), "netCDF attributes must be strings"


def test_cpu_description_has_model_and_vector_instruction_set():
    cpu = json.loads(provenance_attrs()["cpu"])
    assert cpu == cpu_description()
    assert cpu["model"] and cpu["vector_isa"]
