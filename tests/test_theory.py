"""Tests for sharpness.theory: closed forms against independent numerical solutions and simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from sharpness import theory
from sharpness.theory import (
    gd_edge,
    linear_stability_factor,
    normalized_sam_quadratic_iterates,
    quadratic_two_cycle,
    sam_edge_alpha,
    sam_edge_normalized,
    sam_edge_ratio,
    sam_eos_unnormalized,
    sam_eos_value,
    sam_frobenius_bound,
    sam_stable,
    sgd_frobenius_bound,
    sgd_stable,
)

LR_RHO_GRID = [(lr, rho) for lr in (1e-3, 0.03, 0.1, 0.4) for rho in (1e-4, 0.01, 0.05, 1.0, 10.0)]


def normalized_sam_step(w, eigenvalues, lr, rho):
    """One step w - lr * grad L(w + rho * g / |g|) of L(w) = 1/2 sum eigenvalues * w**2."""
    grad = eigenvalues * w
    return w - lr * eigenvalues * (w + rho * grad / np.linalg.norm(grad))


def test_gd_edge():
    assert gd_edge(0.01) == pytest.approx(200.0)
    np.testing.assert_allclose(gd_edge(np.array([0.5, 2.0])), [4.0, 1.0])


@pytest.mark.parametrize(("lr", "rho"), LR_RHO_GRID)
def test_unnormalized_edge_is_root_of_sam_eos_condition(lr, rho):
    root = brentq(lambda lam: lr * (lam + rho * lam**2) - 2.0, 0.0, 2.0 / lr, xtol=1e-14, rtol=1e-13)
    assert sam_eos_unnormalized(lr, rho) == pytest.approx(root, rel=1e-10)
    assert sam_eos_value(lr, rho, root) == pytest.approx(2.0)


def test_unnormalized_edge_limits():
    assert sam_eos_unnormalized(0.1, 0.0) == 20.0
    assert sam_eos_unnormalized(0.1, 1e-12) == pytest.approx(20.0, rel=1e-9)
    assert sam_eos_unnormalized(0.1, np.inf) == 0.0
    edges = sam_eos_unnormalized(0.1, np.linspace(0, 5, 50))
    assert np.all(np.diff(edges) < 0)


@pytest.mark.parametrize("side", [0.97, 1.03])
def test_unnormalized_sam_on_a_quadratic_is_stable_exactly_below_the_edge(side):
    # Unnormalized SAM, w <- w - lr * grad L(w + rho * grad L(w)), simulated on a 2-D quadratic
    # whose top eigenvalue sits just below or just above the edge.
    lr, rho = 0.1, 0.05
    eigenvalues = np.array([side * sam_eos_unnormalized(lr, rho), 1.0])
    w = np.array([1e-3, 1.0])
    for _ in range(2000):
        w = w - lr * eigenvalues * (w + rho * eigenvalues * w)
    assert (abs(w[0]) < 1e-3) == (side < 1)


@pytest.mark.parametrize(("lr", "rho"), LR_RHO_GRID)
@pytest.mark.parametrize("grad_norm", [1e-3, 0.5, 7.0])
def test_normalized_edge_is_where_one_sam_step_stops_decreasing_the_loss(lr, rho, grad_norm):
    # sam-eos Prop. 2 in 1-D: at w with |L'(w)| = grad_norm on L = lam w^2 / 2, one normalized
    # SAM step leaves the loss unchanged exactly when lam is the SAM-edge.
    def loss_change(lam):
        w = np.array([grad_norm / lam])
        new_w = normalized_sam_step(w, np.array([lam]), lr, rho)
        return 0.5 * lam * (new_w[0] ** 2 - w[0] ** 2)

    root = brentq(loss_change, 1e-9, 2.0 / lr, xtol=1e-14, rtol=1e-13)
    assert sam_edge_normalized(lr, rho, grad_norm) == pytest.approx(root, rel=1e-8)


def test_normalized_edge_equals_unnormalized_edge_with_radius_rho_over_grad_norm():
    lr, rho, grad_norm = np.meshgrid([0.01, 0.1, 1.0], [0.0, 0.05, 1.0], [0.01, 1.0, 30.0])
    np.testing.assert_allclose(
        sam_edge_normalized(lr, rho, grad_norm), sam_eos_unnormalized(lr, rho / grad_norm), rtol=1e-12
    )


def test_normalized_edge_special_cases():
    assert sam_edge_normalized(0.1, 0.0, 3.0) == 20.0
    assert sam_edge_normalized(0.1, 0.0, 0.0) == 20.0
    assert sam_edge_normalized(0.1, 0.5, 0.0) == 0.0


def test_ratio_is_edge_over_gd_edge():
    lr, rho, grad_norm = np.meshgrid([0.003, 0.1, 0.5], [0.01, 0.1, 1.0], [1e-3, 0.2, 50.0])
    ratio = sam_edge_ratio(sam_edge_alpha(lr, rho, grad_norm))
    np.testing.assert_allclose(ratio, sam_edge_normalized(lr, rho, grad_norm) / gd_edge(lr), rtol=1e-12)


def test_ratio_matches_the_papers_form_and_limits():
    alpha = np.logspace(-3, 3, 25)
    np.testing.assert_allclose(sam_edge_ratio(alpha), alpha / 2 * (np.sqrt(1 + 4 / alpha) - 1), rtol=1e-9)
    assert np.all(np.diff(sam_edge_ratio(alpha)) > 0)
    assert sam_edge_ratio(0.0) == 0.0
    assert sam_edge_ratio(1e12) == pytest.approx(1.0, abs=1e-9)
    assert sam_edge_ratio(np.inf) == 1.0


def simulate_normalized_sam(eigenvalues, start, lr, rho, steps):
    w = np.asarray(start, dtype=float)
    path = [w]
    for _ in range(steps):
        w = normalized_sam_step(w, eigenvalues, lr, rho)
        path.append(w)
    return np.array(path)


def assert_converged_to_two_cycle(path, amplitude):
    last, before_last = path[-1], path[-2]
    np.testing.assert_allclose(abs(last[0]), amplitude, rtol=1e-6)
    np.testing.assert_allclose(last[1:], 0.0, atol=1e-8)
    assert np.sign(last[0]) == -np.sign(before_last[0])  # it bounces across the ravine


def test_two_cycle_in_the_ravines_figure_1_setting():
    eigenvalues, lr, rho = np.array([1.0, 0.5]), 0.2, 1.0
    path = simulate_normalized_sam(eigenvalues, [2.0, 2.0], lr, rho, steps=300)
    assert quadratic_two_cycle(lr, rho, 1.0) == pytest.approx(1 / 9)
    assert_converged_to_two_cycle(path, quadratic_two_cycle(lr, rho, 1.0))


def test_two_cycle_for_a_random_5d_quadratic():
    rng = np.random.default_rng(0)
    eigenvalues = np.sort(rng.uniform(0.1, 2.0, size=5))[::-1]
    lr, rho = 0.3, 0.5
    path = simulate_normalized_sam(eigenvalues, rng.normal(size=5), lr, rho, steps=3000)
    assert_converged_to_two_cycle(path, quadratic_two_cycle(lr, rho, eigenvalues[0]))


def test_package_iterates_match_direct_simulation():
    eigenvalues = np.array([1.0, 0.5])
    expected = simulate_normalized_sam(eigenvalues, [2.0, 2.0], 0.2, 1.0, steps=30)
    np.testing.assert_allclose(
        normalized_sam_quadratic_iterates(eigenvalues, [2.0, 2.0], 0.2, 1.0, 30), expected
    )


def test_two_cycle_rejects_step_sizes_without_a_cycle():
    with pytest.raises(ValueError, match="lr \\* lam1 < 2"):
        quadratic_two_cycle(0.5, 1.0, 4.0)


@pytest.mark.parametrize("rho", [0.0, 0.01, 0.05, 0.3])
def test_sam_frobenius_bound_is_root_of_table_2_condition(rho):
    batch_size, lr, gamma = 128, 0.1, 0.7
    target = batch_size / (lr**2 * gamma)
    root = brentq(lambda x: x * (1 + rho**2 * gamma * x / batch_size) - target, 0.0, target, rtol=1e-13)
    assert sam_frobenius_bound(batch_size, lr, rho, gamma) == pytest.approx(root, rel=1e-10)
    assert linear_stability_factor(root, batch_size, lr, rho, gamma) == pytest.approx(1.0)


def test_sam_bound_reduces_to_sgd_bound_and_is_tighter_otherwise():
    assert sgd_frobenius_bound(128, 0.1, 0.5) == pytest.approx(128 / (0.01 * 0.5))
    assert sam_frobenius_bound(128, 0.1, 0.0, 0.5) == sgd_frobenius_bound(128, 0.1, 0.5)
    rhos = np.array([0.01, 0.05, 0.1, 1.0])
    assert np.all(sam_frobenius_bound(128, 0.1, rhos, 0.5) < sgd_frobenius_bound(128, 0.1, 0.5))


def test_stability_verdicts_flip_at_the_bounds():
    batch_size, lr, rho, gamma = 64, 0.05, 0.05, 0.3
    sam_bound = sam_frobenius_bound(batch_size, lr, rho, gamma)
    sgd_bound = sgd_frobenius_bound(batch_size, lr, gamma)
    assert sam_stable(0.99 * sam_bound, batch_size, lr, rho, gamma)
    assert not sam_stable(1.01 * sam_bound, batch_size, lr, rho, gamma)
    assert sgd_stable(0.99 * sgd_bound, batch_size, lr, gamma)
    assert not sgd_stable(1.01 * sgd_bound, batch_size, lr, gamma)
    # late-sam P1: a minimum at SGD's bound is unstable for SAM, so SAM escapes it.
    assert not sam_stable(sgd_bound, batch_size, lr, rho, gamma)
    verdicts = sam_stable(np.array([0.5, 2.0]) * sam_bound, batch_size, lr, rho, gamma)
    np.testing.assert_array_equal(verdicts, [True, False])


def test_linear_stability_factor_lower_bounds_simulated_loss_growth_of_stochastic_sam():
    # late-sam Appendix C.1 setting: L(theta) = 1/2 theta' G theta, stochastic unnormalized SAM
    # with B-batch gradient noise of covariance Sigma(theta) / B, Sigma = 2 L(theta) G (Mori et
    # al.'s form, for which gamma = Tr(G^2) / |G|_F^2 = 1). Corollary 4.2: E L_{t+1} >= C E L_t.
    rng = np.random.default_rng(1)
    curvatures = np.array([3.0, 1.0, 0.5])
    batch_size, lr, rho, gamma = 2, 0.8, 0.3, 1.0
    frob_sq = np.sum(curvatures**2)

    def loss(theta):
        return 0.5 * np.sum(curvatures * theta**2, axis=-1)

    def noisy_gradient(theta):
        std = np.sqrt(2.0 * loss(theta)[:, None] * curvatures / batch_size)
        return curvatures * theta + std * rng.standard_normal(theta.shape)

    theta = np.tile([0.01, -0.02, 0.03], (200_000, 1))
    initial_loss = loss(theta).mean()
    losses = []
    for _ in range(3):
        half_step = theta + rho * noisy_gradient(theta)
        theta = theta - lr * noisy_gradient(half_step)
        losses.append(loss(theta).mean())
    factor = linear_stability_factor(frob_sq, batch_size, lr, rho, gamma)
    assert factor > 1 and not sam_stable(frob_sq, batch_size, lr, rho, gamma)
    growth = np.array(losses) / initial_loss
    assert np.all(growth >= 0.97 * factor ** np.arange(1, 4))


@pytest.mark.parametrize(
    ("function", "arguments", "bad_name"),
    [
        (gd_edge, {"lr": 0.0}, "lr"),
        (sam_eos_unnormalized, {"lr": -0.1, "rho": 0.1}, "lr"),
        (sam_eos_unnormalized, {"lr": 0.1, "rho": -0.1}, "rho"),
        (sam_edge_normalized, {"lr": 0.1, "rho": -1.0, "grad_norm": 1.0}, "rho"),
        (sam_edge_normalized, {"lr": 0.1, "rho": 0.1, "grad_norm": -1.0}, "grad_norm"),
        (sam_edge_alpha, {"lr": 0.1, "rho": 0.0, "grad_norm": 1.0}, "rho"),
        (sam_edge_ratio, {"alpha": -1.0}, "alpha"),
        (sam_eos_value, {"lr": 0.0, "rho": 0.1, "lam": 1.0}, "lr"),
        (sam_eos_value, {"lr": 0.1, "rho": 0.1, "lam": np.nan}, "lam"),
        (quadratic_two_cycle, {"lr": 0.1, "rho": -1.0, "lam1": 1.0}, "rho"),
        (sgd_frobenius_bound, {"batch_size": 0, "lr": 0.1, "gamma": 1.0}, "batch_size"),
        (sam_frobenius_bound, {"batch_size": 8, "lr": 0.1, "rho": 0.1, "gamma": 0.0}, "gamma"),
        (sam_stable, {"frob_sq": -1.0, "batch_size": 8, "lr": 0.1, "rho": 0.1, "gamma": 1.0}, "frob_sq"),
        (sgd_stable, {"frob_sq": 1.0, "batch_size": 8, "lr": -0.1, "gamma": 1.0}, "lr"),
        (
            linear_stability_factor,
            {"frob_sq": 1.0, "batch_size": 8, "lr": 0.1, "rho": -0.1, "gamma": 1.0},
            "rho",
        ),
    ],
)
def test_invalid_inputs_raise_value_error_naming_them(function, arguments, bad_name):
    with pytest.raises(ValueError, match=bad_name):
        function(**arguments)


def test_arrays_broadcast_and_scalars_stay_scalars():
    lr = np.array([0.01, 0.1])[:, None]
    rho = np.array([0.0, 0.05, 0.5])
    assert sam_eos_unnormalized(lr, rho).shape == (2, 3)
    assert sam_frobenius_bound(128, lr, rho, 0.5).shape == (2, 3)
    assert isinstance(sam_eos_unnormalized(0.1, 0.05), float)
    assert isinstance(sam_stable(1.0, 128, 0.1, 0.05, 0.5), bool)
    with pytest.raises(ValueError, match="lr"):
        gd_edge(np.array([0.1, -0.1]))


def test_public_api_is_documented():
    for name in theory.__all__:
        docstring = getattr(theory, name).__doc__
        assert docstring and len(docstring) > 40, name
