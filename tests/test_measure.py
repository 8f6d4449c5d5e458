"""Measurements of saved models: the gradient-noise alignment γ against an exact computation."""

import pytest
import torch
from torch import nn

from sharpness.spectrum import HessianOperator
from sharpness.spectrum.noise import gradient_noise_alignment


def test_gamma_matches_dense_covariance_and_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(12, 3, dtype=torch.float64), torch.randint(0, 2, (12,))
    loss_fn = nn.functional.cross_entropy
    params = list(model.parameters())
    op = HessianOperator(model, loss_fn, [(x, y)])

    # Dense references: H of the mean loss, per-sample gradients, their covariance.
    def flat_loss(theta):
        chunks, i = [], 0
        for p in params:
            chunks.append(theta[i : i + p.numel()].view_as(p))
            i += p.numel()
        return loss_fn(torch.func.functional_call(model, dict(zip([n for n, _ in model.named_parameters()], chunks)), (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    H = torch.autograd.functional.hessian(flat_loss, theta)
    grads = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)]) for i in range(12)])
    sigma = torch.cov(grads.T, correction=0)
    frob_sq = float((H**2).sum())
    expected = float(torch.trace(sigma @ H)) / (2 * float(flat_loss(theta)) * frob_sq)

    result = gradient_noise_alignment(model, loss_fn, (x, y), op, frob_sq)
    assert abs(result["trace_sigma_h"] - float(torch.trace(sigma @ H))) < 1e-10
    assert abs(result["gamma"] - expected) < 1e-10 * abs(expected)


@pytest.mark.parametrize("hvp", ["double_backward", "compiled_forward_over_reverse"])
def test_final_spectra_of_a_trained_run_match_dense_eigvalsh(digits_file, tmp_path, hvp):
    """The pipeline's final-sharpness step, end to end on a tiny trained model, against the
    exact eigenvalues of the full Hessian on the same fixed subset, with the default HVP and
    with the compiled one a paper-scale config may choose."""
    from conftest import make_spec

    from sharpness.data import load_prepared
    from sharpness.train import make_loss, train_job
    from sharpness.train.checkpoint import load
    from sharpness.train.hessian import final_spectra, hessian_subset
    from sharpness.train.loop import build_seeded_model

    spec = make_spec((("sgd", 2),), model={"name": "mlp", "width": 6, "depth": 1}, dtype="float64")
    run = tmp_path / "seed0" / "sgd"
    train_job(spec, digits_file, run / "state", run / "final.pt", run / "run.nc", log=lambda m: None)
    settings = {"k": 3, "n_samples": 40, "batch_size": 16, "tol": 1e-10, "max_hvp": 400, "bn_mode": "eval", "seed": 0, "hvp": hvp}
    ds = final_spectra(tmp_path / "seed0", {"sgd": spec.to_dict()}, digits_file, settings, tmp_path / "spectra.nc", log=lambda m: None)

    data = load_prepared(digits_file)
    model = build_seeded_model(spec, data, "cpu", torch.float64)
    model.load_state_dict(load(run / "final.pt")["model"])
    batches = hessian_subset(data, 40, 16, "cpu", torch.float64)  # 16 + 16 + 8: unequal batches
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def loss(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return make_loss("cross_entropy", data.num_classes)(torch.func.functional_call(model, params, (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    exact = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, theta)).flip(0)[:3]
    measured = torch.tensor(ds.eigenvalues.sel(run="sgd").values)
    torch.testing.assert_close(measured, exact, rtol=1e-8, atol=1e-12)
