"""Toy problems against their closed forms and against direct simulations; the landscape
analyses' pieces against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sharpness import theory
from sharpness.store.landscape import second_difference
from sharpness.toys import quadratic_regression as qr
from sharpness.toys import ravine, sam_quadratic, tanh_valley
from sharpness.train.landscape import combine, difference, filter_normalized_direction


@pytest.mark.parametrize("rho", [0.0, 0.03])
def test_zj_simulation_equals_training_the_parameters(rho):
    """GD and unnormalized SAM in z–J space are the same trajectory as training θ of
    f(θ) = y + Gθ + ½Q(θ, θ) on L = ½‖f − y_tr‖² from θ = 0 (where z = f(0) − y_tr, J = G)."""
    q, g, z0 = qr.draw(6, 9, 0.3, 0.4, 1.0, seed=1)
    lr, steps = 0.05, 40
    model = qr.QuadraticModel(q)
    z, jac = z0[None], g[None]
    theta = np.zeros(9)

    def residual(t):
        return z0 + g @ t + 0.5 * np.einsum("aij,i,j->a", q, t, t)

    def jacobian(t):
        return g + np.einsum("aij,i->aj", q, t)

    for _ in range(steps):
        z, jac = model.step(z, jac, lr, np.array([rho]))
        ascent = theta + rho * jacobian(theta).T @ residual(theta)
        theta = theta - lr * jacobian(ascent).T @ residual(ascent)
        np.testing.assert_allclose(z[0], residual(theta), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(jac[0], jacobian(theta), rtol=1e-11, atol=1e-12)


def test_zj_gd_below_its_edge_converges_and_records_the_ntk():
    q, g, z0 = qr.draw(5, 8, 0.01, 0.3, 1.0, seed=0)
    lam0 = np.linalg.eigvalsh(g @ g.T)[-1]
    run = qr.trajectory(q, g, z0, lr=0.5 / lam0, rhos=[0.0], steps=200, record_every=50)
    assert run["ntk_max"][0, 0] == pytest.approx(lam0, rel=1e-12)
    assert run["loss"][0, -1] < 1e-3 * run["loss"][0, 0]
    diverged = qr.trajectory(q, g, z0, lr=3.0 / lam0, rhos=[0.0], steps=400, record_every=50)
    assert np.isnan(diverged["ntk_max"][0, -1])  # past 2/λ: recorded as diverged, not raised


def test_sam_quadratic_converges_to_the_closed_form_cycle():
    options = {"eigenvalues": [1.0, 0.5], "start": [2.0, 2.0], "lr": 0.2, "rho": 1.0, "steps": 400}
    data, _ = sam_quadratic.simulate(options, [0])
    w1, w2 = data["w1"][1], data["w2"][1]
    amplitude = theory.quadratic_two_cycle(0.2, 1.0, 1.0)
    assert data["cycle_amplitude"][1] == pytest.approx(1 / 9)
    assert abs(abs(w1[-1]) - amplitude) < 1e-8 and abs(abs(w1[-2]) - amplitude) < 1e-8 and np.sign(w1[-1]) != np.sign(w1[-2])
    assert abs(w2[-1]) < 1e-8


def _autograd(f, w):
    w = torch.tensor(w, dtype=torch.float64)
    return torch.autograd.functional.jacobian(f, w).numpy(), torch.autograd.functional.hessian(f, w).numpy()


@pytest.mark.parametrize("w", [(0.3, -0.7), (1.2, 2.0), (-0.4, 0.05)])
def test_ravine_gradient_and_hessian_match_autograd(w):
    grad, hess = _autograd(lambda t: t[0] ** 2 / (1 + t[1] ** 2 / 2) + t[1] ** 2 / 2, w)
    np.testing.assert_allclose(ravine.gradient(np.array(w)), grad, rtol=1e-12)
    np.testing.assert_allclose(ravine.hessian(np.array(w)), hess, rtol=1e-12, atol=1e-14)
    assert ravine.sharpness(np.array([0.0, 0.0])) == pytest.approx(2.0)  # w1² + w2²/2 at the origin


@pytest.mark.parametrize("w", [(0.8, 0.6), (-1.5, 0.2), (2.0, -1.0)])
def test_tanh_valley_gradient_hessian_and_the_sharpness_of_its_minima(w):
    grad, hess = _autograd(lambda t: 0.5 * torch.tanh(t[1] * torch.tanh(t[0])) ** 2, w)
    np.testing.assert_allclose(tanh_valley.gradient(np.array(w)), grad, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tanh_valley.hessian(np.array(w)), hess, rtol=1e-10, atol=1e-14)
    u = w[0]
    _, at_minimum = _autograd(lambda t: 0.5 * torch.tanh(t[1] * torch.tanh(t[0])) ** 2, (u, 0.0))
    assert np.linalg.eigvalsh(at_minimum)[-1] == pytest.approx(tanh_valley.minimum_sharpness(u), rel=1e-12)
    assert tanh_valley.sharpness(np.array([u, 0.0])) == pytest.approx(np.tanh(u) ** 2, rel=1e-12)


def test_gd_then_sam_in_the_tanh_valley_ends_flatter():
    path = tanh_valley.path((2.5, 1.0), 1.5, 0.3, 200, 600)
    at_switch, end = tanh_valley.minimum_sharpness(path[200, 0]), tanh_valley.minimum_sharpness(path[-1, 0])
    assert abs(path[200, 1]) < 1e-6 and end < at_switch  # GD found a minimum; SAM left it for a flatter one


def test_second_difference_of_a_parabola_is_as_printed():
    lambdas = np.round(np.arange(-0.5, 1.5 + 1e-9, 0.05), 10)
    loss = 3.0 * lambdas**2 + lambdas
    curvature = second_difference(loss, lambdas, h=0.1)
    # (L(λ+h) + L(λ−h) − 2L(λ)) / (2h)² = 2·3h² / 4h² = 1.5 everywhere inside the grid
    np.testing.assert_allclose(curvature[2:-2], 1.5, rtol=1e-9)
    assert np.isnan(curvature[:2]).all() and np.isnan(curvature[-2:]).all()


def test_filter_normalized_direction_and_line_combinations():
    state = {"conv.weight": torch.randn(4, 3, 3, 3, dtype=torch.float64), "conv.bias": torch.randn(4, dtype=torch.float64),
             "bn.num_batches_tracked": torch.tensor(7)}
    d = filter_normalized_direction(state, torch.Generator().manual_seed(0))
    torch.testing.assert_close(d["conv.weight"].flatten(1).norm(dim=1), state["conv.weight"].flatten(1).norm(dim=1))
    assert (d["conv.bias"] == 0).all() and (d["bn.num_batches_tracked"] == 0).all()
    other = {k: v + 1 if v.is_floating_point() else v + 5 for k, v in state.items()}
    half = combine(state, [(0.5, difference(other, state))])
    torch.testing.assert_close(half["conv.weight"], state["conv.weight"] + 0.5)
    assert int(half["bn.num_batches_tracked"]) == 7  # integer buffers keep the centre's
