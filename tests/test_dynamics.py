"""The step-based trainer of the dynamics kind: exact resume and prefixes, divergence, and the
tracked quantities against dense references (eigvalsh of the full Hessian, explicit Jacobians)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from sharpness import theory
from sharpness.data import load_prepared, prepare_dataset
from sharpness.runspec import StepPhase, StepRunSpec, epoch_seed
from sharpness.store import read
from sharpness.train import checkpoint as ckpt
from sharpness.train.dynamics import StepTrainer, dynamics_job
from sharpness.train.losses import make_loss
from sharpness.train.tracking import perturbation

MEASURE = {"k": 2, "n_samples": 60, "batch_size": 25, "tol": 1e-10, "max_hvp": 400, "bn_mode": "eval", "seed": 0, "ntk_k": 1}


def step_spec(phases=(("gd", 12, {}),), batch_size=None, **overrides) -> StepRunSpec:
    fields = dict(
        seed=0, steps=phases[-1][1], model={"name": "mlp", "width": 6, "depth": 1, "activation": "tanh"}, loss="mse",
        batch_size=batch_size, lr_schedule={"name": "constant", "lr": 0.3},
        phases=tuple(StepPhase(opt, until, settings) for opt, until, settings in phases),
        measure_every=4, measure=MEASURE, dtype="float64", checkpoint_every=4, dataset={"name": "digits", "n_train": 300},
    )
    fields.update(overrides)
    return StepRunSpec(**fields)


def _job(spec, digits_file, tmp_path, name, **kwargs):
    out = tmp_path / name
    dynamics_job(spec, digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None, **kwargs)
    return out


def _same_weights(a, b):
    a, b = ckpt.load(a)["model"], ckpt.load(b)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_switched_run_equals_its_prefix_and_resumes_from_it(digits_file, tmp_path):
    """GD→SAM switched at t records GD's history up to t; resumed from GD's checkpoint at t it
    ends bit-identical to the switched schedule trained from scratch."""
    t, T = 4, 12
    prefix = _job(step_spec((("gd", T, {}),)), digits_file, tmp_path, "gd", keep={t: str(tmp_path / "gd_t4.pt")})
    switched = step_spec((("gd", t, {}), ("sam", T, {"rho": 0.05})))
    branch = _job(switched, digits_file, tmp_path, "branch", start_from=str(tmp_path / "gd_t4.pt"))
    scratch = _job(switched, digits_file, tmp_path, "scratch")
    _same_weights(branch / "final.pt", scratch / "final.pt")
    runs = [read(p / "run.nc") for p in (prefix, branch, scratch)]
    for var in ("train_loss", "grad_norm", "eigenvalues", "sam_edge"):
        np.testing.assert_array_equal(runs[0][var].sel(step=slice(0, t)), runs[2][var].sel(step=slice(0, t)))
        np.testing.assert_array_equal(runs[1][var], runs[2][var])
    assert list(runs[2].optimizer.values) == ["gd", "gd", "sam", "sam"]
    assert runs[1].attrs["steps_trained"] == T - t and runs[2].attrs["steps_trained"] == T
    assert not np.array_equal(runs[0].eigenvalues.values, runs[2].eigenvalues.values)  # SAM changed the trajectory


@pytest.mark.parametrize("batch_size", [None, 64])
def test_interrupted_run_resumes_bit_identically(digits_file, tmp_path, batch_size):
    """Killed after step 8 (mid-epoch for minibatches of 64 of 300): the resumed job ends with
    the weights, history and warm starts of an uninterrupted one."""
    opt = "sgd" if batch_size else "gd"
    spec = step_spec(((opt, 6, {}), ("sam", 14, {"rho": 0.1})), batch_size=batch_size, measure_every=2)
    full = _job(spec, digits_file, tmp_path, "full")
    state_dir = tmp_path / "killed" / "state"
    short = replace(spec, steps=8, phases=(spec.phases[0], replace(spec.phases[1], until_step=8)))
    StepTrainer(short, load_prepared(digits_file), log=lambda m: None).run(state_dir)
    assert ckpt.latest_state(state_dir, "step").name == "step8.pt"
    messages = []
    dynamics_job(spec, digits_file, state_dir, tmp_path / "killed" / "final.pt", tmp_path / "killed" / "run.nc", log=messages.append)
    assert any("resuming from" in m and "step8.pt" in m for m in messages)
    _same_weights(full / "final.pt", tmp_path / "killed" / "final.pt")
    a, b = read(full / "run.nc"), read(tmp_path / "killed" / "run.nc")
    for var in ("batch_loss", "eigenvalues", "ntk_eigenvalues", "sam_grad_alignment"):
        np.testing.assert_array_equal(a[var].values, b[var].values)


def test_minibatches_follow_the_epoch_order(digits_file):
    """Minibatch s is slice ⌊(s−1) mod E⌋ of the (seed, epoch) permutation, whatever the optimizer."""
    data = load_prepared(digits_file)
    trainer = StepTrainer(step_spec((("sgd", 12, {}),), batch_size=64), data, log=lambda m: None)
    other = StepTrainer(step_spec((("sam", 12, {"rho": 0.1}),), batch_size=64), data, log=lambda m: None)
    order = torch.randperm(300, generator=torch.Generator().manual_seed(epoch_seed(0, 2)))
    x, y = trainer._batch(7)  # 5 steps per epoch: step 7 is the second batch of epoch 2
    assert torch.equal(y, data.y_train[order[64:128]])
    assert torch.equal(x, other._batch(7)[0])
    assert len(trainer._batch(5)[1]) == 300 - 4 * 64  # the last batch of an epoch is partial


def test_diverged_run_is_recorded_and_the_job_succeeds(digits_file, tmp_path):
    out = _job(step_spec((("gd", 12, {}),), lr_schedule={"name": "constant", "lr": 1e5}), digits_file, tmp_path, "diverged")
    run = read(out / "run.nc")
    assert run.attrs["diverged"] == 1 and run.attrs["diverged_step"] in (4, 8, 12)
    after = run.step > run.attrs["diverged_step"]
    assert np.isnan(run.train_loss.where(after, drop=True)).all() and np.isnan(run.eigenvalues.sel(step=run.attrs["diverged_step"])).all()


def _dense(model, loss_fn, x, y):
    """Flat parameters, the dense Hessian, gradient and output Jacobian of the mean loss on (x, y)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def unflat(v):
        return {n: c.view(s) for n, c, s in zip(names, torch.split(v, [s.numel() for s in shapes]), shapes)}

    def loss(v):
        return loss_fn(torch.func.functional_call(model, unflat(v), (x,)), y)

    jac = torch.autograd.functional.jacobian(lambda v: torch.func.functional_call(model, unflat(v), (x,)).reshape(-1), theta)
    return theta, torch.autograd.functional.hessian(loss, theta), torch.func.grad(loss)(theta), jac, torch.func.grad(loss)


@pytest.mark.parametrize("optimizer, rho", [("gd", 0.0), ("sam", 0.2), ("usam", 0.5), ("asam", 0.5)])
def test_measurement_matches_dense_references(digits_file, optimizer, rho):
    """At step 0 in float64: top-k against eigvalsh of the dense Hessian; ‖g‖, the alignments
    and the edges against their definitions; the NTK eigenvalue against (2/(NC))·JJᵀ."""
    settings = {"rho": rho} if rho else {}
    trainer = StepTrainer(step_spec(((optimizer, 4, settings),)), load_prepared(digits_file), log=lambda m: None)
    trainer._record(0, math.nan, math.nan)
    h = trainer.history
    x, y = trainer.measure_x, trainer.measure_y
    theta, hessian, g, jac, grad_fn = _dense(trainer.model, make_loss("mse", 10), x, y)
    evals, evecs = torch.linalg.eigh(hessian)
    np.testing.assert_allclose(h.eigen["eigenvalues"][0], evals.flip(0)[:2].numpy(), rtol=1e-8)
    v1 = evecs[:, -1]
    cos = lambda a, b: abs(float(a @ b / (a.norm() * b.norm())))  # noqa: E731
    m = {k: v[0] for k, v in h.metrics.items()}
    assert m["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-10)
    assert m["grad_alignment"] == pytest.approx(cos(g, v1), abs=1e-7)
    assert m["gd_edge"] == pytest.approx(2 / 0.3)
    ntk = torch.linalg.eigvalsh(jac @ jac.T * 2 / jac.shape[0]).max()
    assert h.eigen["ntk_eigenvalues"][0][0] == pytest.approx(float(ntk), rel=1e-8)
    if optimizer == "gd":
        assert m["sam_edge"] == m["gd_edge"] and math.isnan(m["sam_grad_alignment"])
        return
    # ASAM as training takes it: T = |θ| + 0.01 on the weights, 1 on the biases.
    is_weight = torch.cat([torch.full((p.numel(),), "weight" in n) for n, p in trainer.model.named_parameters()])
    scale = torch.where(is_weight, theta.abs() + 0.01, torch.ones_like(theta))
    eps = {"sam": rho * g / g.norm(), "usam": rho * g, "asam": rho * scale**2 * g / (scale * g).norm()}[optimizer]
    named = dict(zip([n for n, _ in trainer.model.named_parameters()], torch.split(theta, [p.numel() for p in trainer.model.parameters()])))
    grads = dict(zip(named, torch.split(g, [p.numel() for p in trainer.model.parameters()])))
    torch.testing.assert_close(perturbation(optimizer, rho, grads, named), eps)
    assert m["sam_grad_alignment"] == pytest.approx(cos(grad_fn(theta + eps), v1), abs=1e-7)
    assert m["perturbation_alignment"] == pytest.approx(1 - math.sqrt(2 - 2 * cos(eps, v1)), abs=1e-7)
    edge = {"sam": theory.sam_edge_normalized(0.3, rho, float(g.norm())), "usam": theory.sam_eos_unnormalized(0.3, rho), "asam": math.nan}
    assert m["sam_edge"] == pytest.approx(edge[optimizer], rel=1e-10, nan_ok=True)


def test_gd_on_a_quadratic_settles_at_its_edge_or_diverges(tmp_path):
    """The edge 2/η is where GD on a quadratic changes from convergent to divergent: the
    measured λmax of a linear model's mse loss is constant (the loss is quadratic), and GD
    diverges exactly when η > 2/λmax."""
    path = tmp_path / "digits.pt"
    prepare_dataset("digits", None, path, n_train=100)
    data = load_prepared(path)
    linear = {"name": "mlp", "depth": 0}
    probe = StepTrainer(step_spec((("gd", 4, {}),), model=linear, measure=dict(MEASURE, n_samples=None, ntk_k=0)), data, log=lambda m: None)
    probe._record(0, math.nan, math.nan)
    lam = probe.history.eigen["eigenvalues"][0][0]
    for factor, diverges in ((0.9, False), (1.1, True)):
        spec = step_spec((("gd", 400, {}),), model=linear, measure_every=100, measure=dict(MEASURE, n_samples=None, ntk_k=0),
                         lr_schedule={"name": "constant", "lr": factor * 2 / lam}, divergence_loss=1e3)
        h = StepTrainer(spec, data, log=lambda m: None).run(tmp_path / f"state{factor}")
        assert h.diverged == diverges, (factor, h.metrics["train_loss"])
        if not diverges:
            assert np.allclose([e[0] for e in h.eigen["eigenvalues"]], lam, rtol=1e-8)  # the Hessian does not move
