"""NTKOperator and ntk_eigenvalues against a dense float64 Jacobian.

The reference ``J`` (D × P) is ``torch.func.jacrev`` of the flattened outputs of all 25 samples,
evaluated as one batch (eval mode), so it does not share the operator's per-batch loop over
the unequal batches (7, 13, 5). The cases come from test_spectrum_cases (their targets are
ignored) plus a linear model for the Gauss–Newton identity. The MLP has P = 44 < D = 50 and the
CNN P = 120 > D = 75, so the comparison of the operator's top eigenvalues (on JᵀJ) with the
dense D × D kernel JJᵀ covers a rank deficit on either side.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from test_spectrum_cases import (  # noqa: F401  (one_torch_thread: autouse fixture)
    BATCH_SIZES,
    N_SAMPLES,
    Case,
    dense_hessian,
    flat_parameters,
    make_case,
    one_torch_thread,
)
from torch import nn

from sharpness.spectrum import HessianOperator, NTKOperator, hessian_eigenvalues, ntk_eigenvalues
from sharpness.train.losses import make_loss

NTK_CASES = ("mlp_tanh_mse", "mlp_relu_ce", "cnn_bn_eval")
N_CLASSES = 3


def make_ntk_case(name: str) -> Case:
    if name != "linear_mse":
        return make_case(name)
    # f = W x + b: J does not depend on θ, so the mse Hessian is exactly its Gauss–Newton part.
    gen = torch.Generator().manual_seed(11)
    model = nn.Linear(5, N_CLASSES).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(N_SAMPLES, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, N_CLASSES, (N_SAMPLES,), generator=gen)
    batches = list(zip(x.split(BATCH_SIZES), y.split(BATCH_SIZES)))
    return Case(name, model, make_loss("mse", N_CLASSES), batches)


def dense_jacobian(case: Case) -> torch.Tensor:
    """(D, P) float64: d(all outputs, sample-major)/d(trainable parameters, flat)."""
    model = copy.deepcopy(case.model).eval()
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    names, shapes = [n for n, _ in trainable], [p.shape for _, p in trainable]
    constants = {**dict(model.named_buffers()),
                 **{n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}}
    inputs = torch.cat([x for x, _ in case.batches])

    def outputs(theta: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, [c.view(s) for c, s in zip(
            theta.split([s.numel() for s in shapes]), shapes)]))
        return torch.func.functional_call(model, {**params, **constants}, (inputs,)).reshape(-1)

    theta = torch.cat([p.detach().reshape(-1) for _, p in trainable])
    return torch.func.jacrev(outputs)(theta)


@functools.lru_cache(maxsize=None)
def reference_jacobian(name: str) -> torch.Tensor:
    return dense_jacobian(make_ntk_case(name))


@pytest.mark.parametrize("name", NTK_CASES)
def test_matvec_matches_dense_jtj(name):
    case = make_ntk_case(name)
    jacobian = reference_jacobian(name)
    operator = NTKOperator(case.model, case.batches)
    assert (operator.dim, operator.n_outputs) == (jacobian.shape[1], jacobian.shape[0])
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):
        v = torch.randn(operator.dim, generator=gen, dtype=torch.float64)
        assert (operator.matvec(v) - jacobian.T @ (jacobian @ v)).abs().max() < 1e-10
    assert operator.n_hvp == 3


@pytest.mark.parametrize("name", NTK_CASES)
def test_top_eigenvalues_are_those_of_the_dense_kernel_jjt(name):
    case = make_ntk_case(name)
    jacobian = reference_jacobian(name)
    kernel = jacobian @ jacobian.T  # (D, D): the NTK itself, not the operator's JᵀJ
    exact = torch.linalg.eigvalsh((kernel + kernel.T) / 2).flip(0)[:3]
    result = ntk_eigenvalues(case.model, case.batches, k=3, seed=0, tol=1e-10)
    assert bool(result.converged.all())
    assert torch.allclose(result.eigenvalues, exact, rtol=1e-8, atol=0)
    assert result.settings["operator"] == "ntk" and result.settings["scale"] == 1.0


def test_mse_scale_gives_the_mse_hessian_of_a_linear_model():
    case = make_ntk_case("linear_mse")
    operator = NTKOperator(case.model, case.batches, scale="mse")
    assert operator.scale == 2.0 / (N_SAMPLES * N_CLASSES)
    # The operator as a dense matrix, column by column.
    matrix = torch.stack([operator.matvec(e) for e in torch.eye(operator.dim,
                                                                dtype=torch.float64)], dim=1)
    hessian = dense_hessian(case)
    assert (matrix - hessian).abs().max() < 1e-12 * hessian.abs().max()
    # Hence the top eigenvalue is the Hessian's, the one compared with 2/η.
    ntk_top = ntk_eigenvalues(case.model, case.batches, k=2, scale="mse", tol=1e-10)
    hessian_top = hessian_eigenvalues(case.model, case.loss_fn, case.batches, k=2, tol=1e-10)
    assert torch.allclose(ntk_top.eigenvalues, hessian_top.eigenvalues, rtol=1e-10)


def test_mse_scale_is_not_the_hessian_away_from_linearity():
    # A nonlinear network with non-zero residuals: Gauss–Newton ≠ Hessian (the check above has
    # teeth only because it can fail).
    case = make_ntk_case("mlp_relu_ce")
    loss_fn = make_loss("mse", N_CLASSES)
    operator = NTKOperator(case.model, case.batches, scale="mse")
    v = torch.ones(operator.dim, dtype=torch.float64)
    hv = HessianOperator(case.model, loss_fn, case.batches).matvec(v)
    assert not torch.allclose(operator.matvec(v), hv, atol=1e-3)


def test_explicit_scale_multiplies_jtj():
    case = make_ntk_case("mlp_tanh_mse")
    jacobian = reference_jacobian(case.name)
    v = torch.randn(jacobian.shape[1], generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    operator = NTKOperator(case.model, case.batches, scale=0.25)
    assert (operator.matvec(v) - 0.25 * jacobian.T @ (jacobian @ v)).abs().max() < 1e-10
    for bad in (0.0, -1.0, float("nan"), "gauss_newton"):
        with pytest.raises(ValueError, match="scale"):
            NTKOperator(case.model, case.batches, scale=bad)


def test_model_parameters_buffers_and_flags_are_untouched():
    case = make_ntk_case("cnn_bn_eval")
    case.model.train()
    case.model[0].eval()  # a mixed pattern of flags, which must come back exactly
    flags = [m.training for m in case.model.modules()]
    state = {k: v.clone() for k, v in case.model.state_dict().items()}
    operator = NTKOperator(case.model, case.batches)
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    jacobian = reference_jacobian(case.name)  # eval mode: running statistics used, not written
    assert (operator.matvec(v) - jacobian.T @ (jacobian @ v)).abs().max() < 1e-10
    assert [m.training for m in case.model.modules()] == flags
    for key, value in case.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(p.grad is None for p in case.model.parameters())


def test_snapshot_ignores_later_parameter_changes():
    case = make_ntk_case("mlp_tanh_mse")
    operator = NTKOperator(case.model, case.batches)
    v = torch.ones(operator.dim, dtype=torch.float64)
    before = operator.matvec(v)
    with torch.no_grad():
        for p in case.model.parameters():
            p.mul_(2.0)
    assert torch.equal(operator.matvec(v), before)
    assert torch.equal(2 * operator.parameters_vector(), flat_parameters(case.model))


def test_frozen_parameters_are_constants_and_excluded():
    case = make_ntk_case("mlp_tanh_mse")
    case.model[0].requires_grad_(False)
    operator = NTKOperator(case.model, case.batches)
    n_frozen = sum(p.numel() for p in case.model[0].parameters())
    trainable_columns = reference_jacobian(case.name)[:, n_frozen:]  # frozen layer comes first
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = trainable_columns.T @ (trainable_columns @ v)
    assert (operator.matvec(v) - expected).abs().max() < 1e-10


def test_float32_operator_on_float64_model_and_describe():
    case = make_ntk_case("cnn_bn_eval")
    operator = NTKOperator(case.model, case.batches, scale="mse", dtype=torch.float32)
    jacobian = reference_jacobian(case.name)
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    jtjv = operator.matvec(v)
    assert jtjv.dtype == torch.float32
    expected = operator.scale * jacobian.T @ (jacobian @ v)
    assert (jtjv.double() - expected).norm() < 1e-5 * expected.norm()
    assert operator.describe() == {
        "operator": "ntk", "scale": 2.0 / 75, "scale_rule": "mse", "bn_mode": "eval",
        "n_samples": 25, "batch_sizes": [7, 13, 5], "outputs_per_sample": 3, "n_outputs": 75,
        "dim": jacobian.shape[1], "dtype": "float32", "device": "cpu",
    }


def test_ntk_eigenvalues_with_a_ready_operator_and_invalid_arguments():
    case = make_ntk_case("mlp_relu_ce")
    operator = NTKOperator(case.model, case.batches, scale="mse")
    shared = ntk_eigenvalues(operator, k=1, seed=0, tol=1e-10, return_eigenvectors=True)
    direct = ntk_eigenvalues(case.model, case.batches, k=1, seed=0, tol=1e-10, scale="mse")
    assert operator.n_hvp == shared.n_hvp
    assert torch.allclose(shared.eigenvalues, direct.eigenvalues, rtol=1e-10)
    assert shared.eigenvectors.shape == (1, operator.dim)
    assert shared.settings["scale_rule"] == "mse" and shared.settings["n_outputs"] == 75
    with pytest.raises(ValueError, match="only go with a model"):
        ntk_eigenvalues(operator, case.batches)
    with pytest.raises(ValueError, match="only go with a model"):
        ntk_eigenvalues(operator, scale=1.0)
    with pytest.raises(ValueError, match="needs batches"):
        ntk_eigenvalues(case.model)
    with pytest.raises(ValueError, match="empty"):
        NTKOperator(case.model, [])
    with pytest.raises(ValueError, match="length"):
        operator.matvec(torch.ones(operator.dim + 1, dtype=torch.float64))


def test_a_batch_with_another_output_shape_is_refused():
    # C is read from the first batch; a batch giving another per-sample shape would make D
    # (and scale="mse") wrong.
    class Reshape(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0], -1)

    model = nn.Sequential(nn.Linear(2, 2), Reshape()).double()
    batches = [(torch.ones(3, 2, dtype=torch.float64), None),
               (torch.ones(4, 3, 2, dtype=torch.float64), None)]
    operator = NTKOperator(model, batches)
    assert operator.outputs_per_sample == 2
    with pytest.raises(ValueError, match="output"):
        operator.matvec(torch.ones(operator.dim, dtype=torch.float64))
