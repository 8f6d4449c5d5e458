"""HessianOperator against the dense reference: HVPs, gradient, loss, BatchNorm policy."""

from __future__ import annotations

import pytest
import torch
from test_spectrum_cases import (
    BATCH_SIZES,
    MODEL_CASES,
    N_SAMPLES,
    dense_gradient,
    flat_parameters,
    make_case,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    mean_loss_of_flat,
    reference_hessian,
)
from torch import nn

from sharpness.spectrum import HessianOperator

HVP_VARIANTS = {
    "double_backward+reuse": {"method": "double_backward", "reuse_graph": True},
    "double_backward": {"method": "double_backward", "reuse_graph": False},
    "forward_over_reverse": {"method": "forward_over_reverse"},
}


def _operator(case, **kwargs) -> HessianOperator:
    return HessianOperator(case.model, case.loss_fn, case.batches, bn_mode=case.bn_mode, **kwargs)


@pytest.mark.parametrize("variant", HVP_VARIANTS)
@pytest.mark.parametrize("name", MODEL_CASES)
def test_hvp_matches_dense_hessian(name, variant):
    case = make_case(name)
    hessian = reference_hessian(name)
    operator = _operator(case, **HVP_VARIANTS[variant])
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):  # repeated products exercise the retained graph
        v = torch.randn(operator.dim, generator=gen, dtype=torch.float64)
        assert (operator.matvec(v) - hessian @ v).abs().max() < 1e-10
    assert operator.n_hvp == 3


@pytest.mark.parametrize("name", MODEL_CASES)
def test_gradient_and_loss_match_reference(name):
    case = make_case(name)
    expected_loss = float(mean_loss_of_flat(case)(flat_parameters(case.model)))
    for kwargs in HVP_VARIANTS.values():
        operator = _operator(case, **kwargs)
        operator.matvec(torch.ones(operator.dim, dtype=torch.float64))  # builds any cached graph
        assert torch.allclose(operator.gradient(), dense_gradient(case), rtol=0, atol=1e-12)
        assert operator.loss() == pytest.approx(expected_loss, rel=1e-12)


@pytest.mark.parametrize("name", MODEL_CASES)
def test_gradient_at_a_shifted_point_matches_reference(name):
    """∇L(θ + shift), as at SAM's perturbed point, without moving the snapshot."""
    case = make_case(name)
    operator = _operator(case)
    shift = 0.1 * torch.randn(operator.dim, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    theta = (flat_parameters(case.model) + shift).requires_grad_(True)
    expected = torch.autograd.grad(mean_loss_of_flat(case)(theta), theta)[0]
    assert torch.allclose(operator.gradient_at(shift), expected, rtol=0, atol=1e-12)
    assert torch.allclose(operator.gradient(), dense_gradient(case), rtol=0, atol=1e-12)  # snapshot unchanged


def test_unequal_batches_are_weighted_by_size_not_averaged():
    case = make_case("mlp_tanh_mse")
    operator = _operator(case)
    assert operator.batch_sizes == list(BATCH_SIZES) and operator.n_samples == N_SAMPLES
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # The plain average of per-batch Hessians is a different matrix; the operator must not be it.
    per_batch = [HessianOperator(case.model, case.loss_fn, [b]).matvec(v) for b in case.batches]
    weighted = sum(n * hv for n, hv in zip(BATCH_SIZES, per_batch)) / N_SAMPLES
    unweighted = sum(per_batch) / len(per_batch)
    assert torch.allclose(operator.matvec(v), weighted, atol=1e-12)
    assert not torch.allclose(operator.matvec(v), unweighted, atol=1e-6)


@pytest.mark.parametrize("variant", HVP_VARIANTS)
def test_train_batchnorm_leaves_model_state_and_modes_untouched(variant):
    case = make_case("cnn_bn_train")
    case.model.train()
    case.model[0].eval()  # a mixed pattern of flags, which must come back exactly
    flags = [m.training for m in case.model.modules()]
    state = {k: v.clone() for k, v in case.model.state_dict().items()}
    operator = _operator(case, **HVP_VARIANTS[variant])
    operator.matvec(torch.ones(operator.dim, dtype=torch.float64))
    operator.gradient()
    operator.loss()
    assert [m.training for m in case.model.modules()] == flags
    for key, value in case.model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_train_and_eval_batchnorm_give_different_hessians():
    assert not torch.allclose(reference_hessian("cnn_bn_eval"), reference_hessian("cnn_bn_train"),
                              atol=1e-3)


def test_dropout_is_off_during_hvps():
    case = make_case("mlp_tanh_mse")
    model = nn.Sequential(case.model[0], case.model[1], nn.Dropout(0.5), case.model[2]).train()
    operator = HessianOperator(model, case.loss_fn, case.batches)
    v = torch.ones(operator.dim, dtype=torch.float64)
    assert torch.allclose(operator.matvec(v), reference_hessian(case.name) @ v, atol=1e-10)
    assert model.training


def test_float32_operator_on_float64_model_and_describe():
    case = make_case("mlp_relu_ce")
    operator = HessianOperator(case.model, case.loss_fn, case.batches, dtype=torch.float32)
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    hv = operator.matvec(v)
    assert hv.dtype == torch.float32
    expected = reference_hessian(case.name) @ v
    assert (hv.double() - expected).norm() < 1e-5 * expected.norm()
    assert operator.describe() == {
        "operator": "hessian", "method": "double_backward", "method_requested": "auto", "compiled": False,
        "reuse_graph": True, "bn_mode": "eval", "n_samples": 25, "batch_sizes": [7, 13, 5],
        "dim": operator.dim, "dtype": "float32", "device": "cpu",
    }


def test_operator_snapshot_ignores_later_parameter_changes():
    case = make_case("mlp_tanh_mse")
    operator = _operator(case)
    v = torch.ones(operator.dim, dtype=torch.float64)
    before = operator.matvec(v)
    with torch.no_grad():
        for p in case.model.parameters():
            p.add_(1.0)
    assert torch.equal(operator.matvec(v), before)
    assert torch.equal(operator.unflatten(operator.parameters_vector())["0.weight"] + 1.0,
                       case.model[0].weight)


def test_invalid_arguments_are_rejected():
    case = make_case("mlp_tanh_mse")
    with pytest.raises(ValueError, match="bn_mode"):
        HessianOperator(case.model, case.loss_fn, case.batches, bn_mode="batch")
    with pytest.raises(ValueError, match="method"):
        HessianOperator(case.model, case.loss_fn, case.batches, method="finite_differences")
    with pytest.raises(ValueError, match="empty"):
        HessianOperator(case.model, case.loss_fn, [])
    operator = _operator(case)
    with pytest.raises(ValueError, match="length"):
        operator.matvec(torch.ones(operator.dim + 1, dtype=torch.float64))


def test_frozen_parameters_are_constants_and_excluded_from_the_operator():
    case = make_case("mlp_tanh_mse")
    case.model[0].requires_grad_(False)
    operator = HessianOperator(case.model.float(), case.loss_fn, case.batches,
                               dtype=torch.float64)
    n_frozen = sum(p.numel() for p in case.model[0].parameters())
    assert operator.dim == reference_hessian(case.name).shape[0] - n_frozen
    v = torch.randn(operator.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # The Hessian wrt the trainable subset is a sub-block of the full one (the frozen layer's
    # parameters come first); tolerance: the model itself was rounded to float32.
    expected = reference_hessian(case.name)[n_frozen:, n_frozen:] @ v
    assert torch.allclose(operator.matvec(v), expected, atol=1e-6)


def test_out_of_memory_while_keeping_the_graph_falls_back_to_per_batch(monkeypatch):
    case = make_case("mlp_relu_ce")
    operator = _operator(case)
    build = operator._gradient_with_graph

    def fail_for_all_batches(batches, weights=None):
        if len(batches) == len(case.batches):
            raise torch.OutOfMemoryError("simulated")
        return build(batches, weights)

    monkeypatch.setattr(operator, "_gradient_with_graph", fail_for_all_batches)
    v = torch.ones(operator.dim, dtype=torch.float64)
    assert torch.allclose(operator.matvec(v), reference_hessian(case.name) @ v, atol=1e-10)
    assert operator.reuse_graph is False and operator.describe()["reuse_graph"] is False


# The central-difference HVP's error against the exact one, as operator.finite_difference_step
# states it: relative error in norm over 20 random vectors; ReLU/max-pool models in float32 by
# their median (a product whose step crosses a kink may be off by far more).
SMOOTH_CASES = ("mlp_tanh_mse", "saddle_cosine")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", MODEL_CASES)
def test_finite_difference_hvp_is_within_its_stated_error(name, dtype):
    case = make_case(name)
    exact = _operator(case, method="double_backward", dtype=dtype)
    approx = _operator(case, method="finite_difference", dtype=dtype)
    gen = torch.Generator().manual_seed(11)
    errors = []
    for _ in range(20):
        v = torch.randn(exact.dim, generator=gen, dtype=torch.float64).to(dtype)
        hv = exact.matvec(v).double()
        errors.append(float((approx.matvec(v).double() - hv).norm() / hv.norm()))
    errors = torch.tensor(errors)
    if dtype == torch.float64:
        assert errors.max() < 3e-7
    elif name in SMOOTH_CASES:
        assert errors.max() < 3e-4
    else:
        assert errors.median() < 3e-3
    assert errors.min() > 0  # approximate: a copy of double backward would not pass
    assert approx.describe()["method"] == "finite_difference" and approx.n_hvp == 20


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_finite_difference_lanczos_converges_at_tol_1e_3(dtype):
    from sharpness.spectrum import top_eigenpairs  # noqa: PLC0415

    exact = torch.linalg.eigvalsh(reference_hessian("mlp_tanh_mse")).flip(0)[:3]
    operator = _operator(make_case("mlp_tanh_mse"), method="finite_difference", dtype=dtype)
    result = top_eigenpairs(operator, k=3, tol=1e-3, seed=0)
    assert bool(result.converged.all())
    assert torch.allclose(result.eigenvalues, exact, rtol=2e-3)


# Compiling is slow on a CPU (each batch size is one graph): the float-target (MSE) case against
# the dense Hessian here, a convolution with BatchNorm in train mode against the eager HVP below.
def test_compiled_forward_over_reverse_matches_the_dense_hessian():
    name = "mlp_tanh_mse"
    case = make_case(name)
    hessian = reference_hessian(name)
    operator = _operator(case, method="forward_over_reverse", compile=True)
    gen = torch.Generator().manual_seed(5)
    for _ in range(2):
        v = torch.randn(operator.dim, generator=gen, dtype=torch.float64)
        assert (operator.matvec(v) - hessian @ v).abs().max() < 1e-10
    assert operator.describe()["compiled"] is True


def test_compiled_forward_over_reverse_in_float32_is_the_eager_one_to_rounding():
    from torch._dynamo.utils import counters

    def one_batch_operator(**kwargs) -> HessianOperator:
        case = make_case("cnn_bn_train")
        return HessianOperator(case.model, case.loss_fn, case.batches[:1], bn_mode="train", dtype=torch.float32,
                               method="forward_over_reverse", **kwargs)

    eager, compiled = one_batch_operator(), one_batch_operator(compile=True)
    v = torch.randn(eager.dim, generator=torch.Generator().manual_seed(6)).float()
    hv = eager.matvec(v)
    assert float((compiled.matvec(v) - hv).norm() / hv.norm()) < 1e-4
    # One graph serves every operator on a model of that architecture (a spectrum job measures
    # checkpoint after checkpoint): a second operator on a new model compiles nothing.
    graphs = counters["stats"]["unique_graphs"]
    one_batch_operator(compile=True).matvec(v)
    assert counters["stats"]["unique_graphs"] == graphs
    with pytest.raises(ValueError, match="forward_over_reverse"):
        _operator(make_case("cnn_bn_train"), method="double_backward", compile=True)
