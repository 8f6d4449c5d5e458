"""The cost planner: epochs with prefix sharing, SGD-epoch equivalents, and hours from a table."""

from __future__ import annotations

import json

import pytest

from sharpness.config import Study, load_config
from sharpness.plan import ThroughputTable, epoch_cost, fast_path_label, plan, render, switching_cost

STUDY = {
    "kind": "switching",
    "dataset": {"name": "cifar10"},
    "model": {"name": "wrn", "depth": 16, "widen_factor": 8},
    "loss": "cross_entropy",
    "seeds": [0, 1, 2],
    "epochs": 200,
    "batch_size": 128,
    "lr_schedule": {"name": "constant", "lr": 0.1},
    "optimizers": {"sgd": {"momentum": 0.9}, "sam": {"rho": 0.05, "momentum": 0.9}},
    "switching": {"directions": ["sgd->sam"], "switch_epochs": [150, 190]},
}


def _config(study: dict) -> dict:
    from sharpness.config import validate_config

    return validate_config({"studies": {"wrn-plan": study}, "figures": {"plots": {}}})


def test_prefix_sharing_and_sam_cost_by_hand():
    study = Study("wrn-plan", _config(STUDY)["studies"]["wrn-plan"])
    cost = switching_cost(study)
    # per seed: SGD 200 + SAM 200 + two branches of 50 and 10 SAM epochs
    assert cost.epochs == 3 * (200 + 200 + 50 + 10)
    assert cost.naive_epochs == 3 * 4 * 200
    assert cost.sgd_equivalents == 3 * (200 + 2 * 200 + 2 * 50 + 2 * 10)
    assert cost.images_per_epoch == 50000 and cost.model == "wrn-16-8"


def test_epoch_cost_of_each_optimizer_kind():
    assert epoch_cost({}, "sgd") == 1 and epoch_cost({"type": "usam"}, "u") == 2
    assert epoch_cost({"steps": 3}, "at") == 4


def test_hours_come_from_the_measured_table_only(tmp_path):
    rows = [{"model": "wrn-16-8", "path": "channels_last", "batch": 128, "optimizer": opt, "images_per_s": ips,
             "peak_memory_mb": mem} for opt, ips, mem in (("sgd", 10000.0, 900.0), ("sam", 5000.0, 1200.0))]
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps({"device": "Test GPU", "torch": "2.x", "rows": rows}))
    table = ThroughputTable.read(path)
    fast = {**STUDY, "fast_path": {"channels_last": True}}
    [priced] = plan({"a": _config(fast)}, table)
    assert priced.hours == pytest.approx(priced.sgd_equivalents * 50000 / 10000 / 3600)
    assert priced.peak_memory_mb == 1200.0
    [unpriced] = plan({"a": _config(STUDY)}, table)  # the plain path was not measured
    assert unpriced.hours is None and "no throughput" in unpriced.note
    assert "Test GPU" in render([priced], table)


def test_the_plan_names_a_faster_measured_path(tmp_path):
    # bfloat16 measured slower than float32 for this model: the plan says which path to use.
    rows = [{"model": "wrn-16-8", "path": path, "batch": 128, "optimizer": opt, "images_per_s": ips, "peak_memory_mb": 1.0}
            for path, sgd, sam in (("channels_last", 10000.0, 5000.0), ("channels_last+bfloat16", 9000.0, 4000.0))
            for opt, ips in (("sgd", sgd), ("sam", sam))]
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps({"device": "Test GPU", "torch": "2.x", "rows": rows}))
    table = ThroughputTable.read(path)
    [slower] = plan({"a": _config({**STUDY, "fast_path": {"channels_last": True, "autocast": "bfloat16"}})}, table)
    assert slower.note == "fast_path channels_last measured 1.25× faster for SAM than channels_last+bfloat16 here"
    [fastest] = plan({"a": _config({**STUDY, "fast_path": {"channels_last": True}})}, table)
    assert fastest.note == ""


def test_fast_path_labels_match_the_benchmark():
    assert fast_path_label({}) == "plain"
    assert fast_path_label({"fast_path": {"channels_last": True, "autocast": "bfloat16", "compile": True}}) == "channels_last+bfloat16+compile"
    assert fast_path_label({"fast_path": {"autocast": "bfloat16", "compile": "reduce-overhead"}}) == "bfloat16+reduce-overhead"
    assert fast_path_label({"fast_path": {"autocast": "none"}}) == "plain"


def test_the_whole_paper_catalogue_plans_each_study_once():
    from pathlib import Path

    configs = {p: load_config(p) for p in sorted(Path("configs/paper").glob("*.yaml"))}
    costs = plan(configs)
    names = [c.name for c in costs]
    assert len(names) == len(set(names))
    assert all(c.epochs <= c.naive_epochs for c in costs)
    assert "total:" in render(costs, None)


def test_the_plan_command_prints_every_study_and_a_total(capsys):
    from sharpness.cli import main

    assert main(["plan", "config.yaml"]) == 0
    out = capsys.readouterr().out
    assert "digits-noise" in out and out.rstrip().splitlines()[-1].startswith("total:")
    assert main(["plan", "no-such.yaml"]) == 1


def test_the_slurm_guide_quotes_the_paper_catalogue_plan_as_it_is():
    import re
    from pathlib import Path

    guide = Path("docs/slurm.md").read_text()
    quoted = re.search(r"<!-- plan:begin -->\n```text\n(.*)\n```\n<!-- plan:end -->", guide).group(1)
    configs = {p: load_config(p) for p in sorted(Path("configs/paper").glob("*.yaml"))}
    assert quoted == render(plan(configs), None).splitlines()[-1]
