"""The Hessian of a network's mean loss over a fixed data subset, as a symmetric linear operator.

The operator works on a snapshot of the trainable parameters taken at construction (cast to
``dtype`` and moved to ``device``) and evaluates the network through
``torch.func.functional_call``: the model's own parameters, buffers and BatchNorm running
statistics are never written, and each module's train/eval flag is restored after every pass.

Loss weighting: ``loss_fn(output, target)`` returns the mean over its batch, so batch ``b`` with
``n_b`` samples enters the full-data loss with weight ``n_b / N``. Unequal batch sizes then give
exactly the mean over all ``N`` samples.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from sharpness.spectrum.linear_operator import _check_vector
from sharpness.spectrum.snapshot import ParameterSnapshot

BnMode = Literal["eval", "train"]
HvpMethod = Literal["double_backward", "forward_over_reverse", "finite_difference", "auto"]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Batch = tuple[torch.Tensor, torch.Tensor]

_METHODS = ("double_backward", "forward_over_reverse", "finite_difference", "auto")
_BN_MODES = ("eval", "train")


class HessianOperator(ParameterSnapshot):
    """``H = ∇²_θ (1/N) Σ_i loss_i(θ)`` over all samples of ``batches``, applied as ``matvec``.

    ``bn_mode="eval"`` puts every module in eval mode (BatchNorm uses running statistics).
    ``bn_mode="train"`` puts only BatchNorm layers in train mode (each batch normalised by its
    own statistics); dropout and every other module stay in eval mode in both cases, because a
    random operator would break Lanczos. Running statistics are never updated.

    ``method="double_backward"`` differentiates the gradient graph; with ``reuse_graph`` that
    graph is built once and kept, so each HVP costs one backward pass through it. If building it
    runs out of (CUDA) memory the operator falls back to rebuilding it one batch at a time.
    ``method="forward_over_reverse"`` pushes ``v`` forward (``torch.func.jvp``) through
    ``torch.func.grad`` one batch at a time. It is exact like double backward and keeps no
    graph between HVPs; with ``compile=True`` the per-batch HVP is one ``torch.compile`` graph
    (static shapes: one more graph for a smaller last batch), whose first call compiles it
    (tens of seconds, less with a warm inductor cache) and whose later calls run fused
    kernels. Its difference from the eager HVP is rounding: in float64 below 1e-10 relative,
    in float32 below 1e-4 on the test models (``tests/test_spectrum_operator.py``).
    ``method="finite_difference"`` takes central differences of gradients,
    ``(∇L(θ + εv) − ∇L(θ − εv)) / 2ε``: two gradient passes and no second-order graph, so it
    costs about two gradients where double backward through conv/BatchNorm costs several.
    It is approximate and needs a loss that is smooth at θ (not ReLU networks): see
    :func:`finite_difference_step` for ε, the error it gives and where it fails.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        batches: Sequence[Batch],
        *,
        bn_mode: BnMode = "eval",
        method: HvpMethod = "auto",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        reuse_graph: bool = True,
        compile: bool = False,
    ) -> None:
        if bn_mode not in _BN_MODES:
            raise ValueError(f"bn_mode must be one of {_BN_MODES}, got {bn_mode!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        if len(batches) == 0:
            raise ValueError("batches is empty")
        super().__init__(model, dtype=dtype, device=device, requires_grad=True)
        self.loss_fn = loss_fn
        self.bn_mode: BnMode = bn_mode
        self.method_requested: HvpMethod = method
        self.method = _resolve_method(method)
        self.reuse_graph = reuse_graph and self.method == "double_backward"
        if compile and self.method != "forward_over_reverse":
            raise ValueError(f"compile=True needs method='forward_over_reverse' (got {self.method!r}): "
                             "torch.compile does not differentiate a compiled graph twice")
        self.compiled = compile
        self._batches = [(self._snapshot(x), self._snapshot(y)) for x, y in batches]
        self.batch_sizes = [int(x.shape[0]) for x, _ in self._batches]
        self.n_samples = sum(self.batch_sizes)
        # (n_b / N): the exact weight of a batch mean in the all-sample mean.
        self._weights = [size / self.n_samples for size in self.batch_sizes]

        self.n_hvp = 0
        self._graph_grads: list[torch.Tensor] | None = None  # per-parameter, graph attached
        self._graph_loss: torch.Tensor | None = None

    # ----------------------------------------------------------------- public interface

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``H v`` for a flat vector ``v`` of length ``dim`` (same dtype as the operator)."""
        _check_vector(v, self.dim)
        v = v.to(dtype=self.dtype, device=self.device)
        self.n_hvp += 1
        if self.method == "forward_over_reverse":
            return self._hvp_forward_over_reverse(v)
        if self.method == "finite_difference":
            return self._hvp_finite_difference(v)
        if self.reuse_graph:
            grads = self._retained_gradient_graph()
            if grads is not None:
                return self._hvp_through(grads, v, retain_graph=True)
        return self._hvp_double_backward_per_batch(v)

    def gradient(self) -> torch.Tensor:
        """Flat gradient of the full-data mean loss, shape (dim,)."""
        if self._graph_grads is not None:
            return self._concat([g.detach() for g in self._graph_grads])
        return self._mean_gradient(self._params)

    def gradient_at(self, shift: torch.Tensor) -> torch.Tensor:
        """Flat gradient of the full-data mean loss at the snapshot parameters plus ``shift``
        (SAM's perturbed point θ + ε, say), batch by batch; the snapshot is not changed."""
        _check_vector(shift, self.dim)
        pieces = self._split(shift.to(dtype=self.dtype, device=self.device))
        shifted = {name: (p.detach() + d).requires_grad_(True) for (name, p), d in zip(self._params.items(), pieces)}
        return self._mean_gradient(shifted)

    def _mean_gradient(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        for weight, (x, y) in zip(self._weights, self._batches):
            with self._modes():
                loss = self._batch_loss(params, x, y)
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True, materialize_grads=True)
            total += weight * self._concat(grads)
        return total

    def loss(self) -> float:
        """Full-data mean loss at the snapshot parameters."""
        if self._graph_loss is not None:
            return float(self._graph_loss)
        with torch.no_grad(), self._modes():
            total = sum(
                weight * self._batch_loss(self._params, x, y)
                for weight, (x, y) in zip(self._weights, self._batches)
            )
        return float(total)

    def free_graph(self) -> None:
        """Drop the retained gradient graph (it is rebuilt on the next ``matvec``)."""
        self._graph_grads = None
        self._graph_loss = None

    def describe(self) -> dict[str, Any]:
        return {
            "operator": "hessian",
            "method": self.method,
            "method_requested": self.method_requested,
            "compiled": self.compiled,
            "reuse_graph": self.reuse_graph,
            "bn_mode": self.bn_mode,
            "n_samples": self.n_samples,
            "batch_sizes": list(self.batch_sizes),
            "dim": self.dim,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }

    # ----------------------------------------------------------------- HVP implementations

    def _retained_gradient_graph(self) -> list[torch.Tensor] | None:
        """The full-data gradient with its graph, built once; None if it does not fit."""
        if self._graph_grads is None:
            try:
                self._graph_grads, self._graph_loss = self._gradient_with_graph(self._batches)
            except torch.OutOfMemoryError:
                self.free_graph()
                self.reuse_graph = False
                return None
        return self._graph_grads

    def _gradient_with_graph(
        self, batches: Sequence[Batch], weights: Sequence[float] | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        weights = self._weights if weights is None else weights
        with self._modes():
            # One summed loss gives one graph and one autograd call per HVP, not one per batch.
            loss = sum(
                w * self._batch_loss(self._params, x, y) for w, (x, y) in zip(weights, batches)
            )
        grads = torch.autograd.grad(
            loss, list(self._params.values()), create_graph=True, allow_unused=True,
            materialize_grads=True,
        )
        return list(grads), loss.detach()

    def _hvp_through(
        self, grads: list[torch.Tensor], v: torch.Tensor, *, retain_graph: bool
    ) -> torch.Tensor:
        params = list(self._params.values())
        pieces = self._split(v)
        # A gradient entry without a graph (e.g. of a parameter the loss is linear in with no
        # coupling) has a zero Hessian row block; autograd refuses such outputs, so skip them.
        live = [i for i, g in enumerate(grads) if g.requires_grad]
        if not live:
            return torch.zeros_like(v)
        hv = torch.autograd.grad(
            [grads[i] for i in live], params, grad_outputs=[pieces[i] for i in live],
            retain_graph=retain_graph, allow_unused=True, materialize_grads=True,
        )
        return self._concat(hv)

    def _hvp_double_backward_per_batch(self, v: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(v)
        for weight, batch in zip(self._weights, self._batches):
            # Weight 1 here and n_b/N below: peak memory is one batch's graph.
            grads, _ = self._gradient_with_graph([batch], [1.0])
            total += weight * self._hvp_through(grads, v, retain_graph=False)
        return total

    def _hvp_forward_over_reverse(self, v: torch.Tensor) -> torch.Tensor:
        primals = {name: p.detach() for name, p in self._params.items()}
        tangents = dict(zip(self._names, self._split(v)))
        batch_hvp = compiled_batch_hvp() if self.compiled else forward_over_reverse_batch_hvp
        bn_train = self.bn_mode == "train"
        total = torch.zeros_like(v)
        for weight, (x, y) in zip(self._weights, self._batches):
            with self._modes():
                hv = batch_hvp(self.model, self.loss_fn, self._buffers, bn_train, primals, tangents, x, y)
            total += weight * self._concat([hv[name] for name in self._names])
        return total

    def _hvp_finite_difference(self, v: torch.Tensor) -> torch.Tensor:
        norm = float(torch.linalg.vector_norm(v))
        if norm == 0.0:
            return torch.zeros_like(v)
        theta_norm = float(torch.linalg.vector_norm(self._concat([p.detach() for p in self._params.values()])))
        eps = finite_difference_step(self.dtype, theta_norm, norm)
        return (self.gradient_at(eps * v) - self.gradient_at(-eps * v)) / (2 * eps)

    # ----------------------------------------------------------------- helpers

    def _batch_loss(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        return functional_batch_loss(self.model, self.loss_fn, self._buffers, self.bn_mode == "train", params, x, y)

    @contextlib.contextmanager
    def _modes(self) -> Iterator[None]:
        with _module_modes(self.model, batchnorm_training=self.bn_mode == "train"):
            yield



# A config's ``hvp`` setting as HessianOperator arguments. Finite differences are left out: the
# studies' networks are ReLU networks, where they fail (see finite_difference_step).
HVP_SETTINGS = {
    "double_backward": {"method": "double_backward"},
    "forward_over_reverse": {"method": "forward_over_reverse"},
    "compiled_forward_over_reverse": {"method": "forward_over_reverse", "compile": True},
}


def hvp_arguments(settings: dict) -> dict:
    """The HessianOperator arguments of a measurement's settings (a config section; settings
    written before ``hvp`` existed, or by hand, mean the schema's default, double backward)."""
    return HVP_SETTINGS[settings.get("hvp", "double_backward")]


def functional_batch_loss(model: nn.Module, loss_fn: LossFn, buffers: dict, bn_train: bool,
                          params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean loss of one batch with the parameters ``params``; the model is not written."""
    if bn_train:
        # Train-mode BatchNorm updates running stats in place: give it throwaway copies.
        buffers = {name: b.clone() for name, b in buffers.items()}
    return loss_fn(torch.func.functional_call(model, {**params, **buffers}, (x,)), y)


def forward_over_reverse_batch_hvp(model: nn.Module, loss_fn: LossFn, buffers: dict, bn_train: bool,
                                   primals: dict, tangents: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
    """H_b v of one batch: ``torch.func.jvp`` of ``torch.func.grad`` of the batch's mean loss,
    with the parameters ``primals`` and the direction ``tangents`` (dicts by parameter name).
    A function of its arguments only, so that one compiled graph serves every operator on a
    model of the same architecture and batch shape."""

    def batch_gradient(params: dict, y: torch.Tensor) -> dict:
        return torch.func.grad(lambda p: functional_batch_loss(model, loss_fn, buffers, bn_train, p, x, y))(params)

    if not y.is_floating_point():
        return torch.func.jvp(lambda p: batch_gradient(p, y), (primals,), (tangents,))[1]
    # Floating targets ride along as primals with an explicit zero tangent: with an implicit
    # one, mse_loss's double backward under forward AD tries to write into an immutable
    # ZeroTensor (torch 2.14).
    return torch.func.jvp(batch_gradient, (primals, y), (tangents, torch.zeros_like(y)))[1]


@functools.cache
def compiled_batch_hvp():
    """:func:`forward_over_reverse_batch_hvp` compiled once per process, with static shapes."""
    return torch.compile(forward_over_reverse_batch_hvp, dynamic=False)


def finite_difference_step(dtype: torch.dtype, theta_norm: float, v_norm: float) -> float:
    """ε of the central-difference HVP: the step along ``v`` is ε‖v‖ = √u·(1 + ‖θ‖), with u the
    unit roundoff of ``dtype``.

    Central differences err by O(ε²‖v‖³‖∇³L‖) (truncation) plus O(u/ε) (rounding); √u keeps
    truncation negligible and rounding small. Measured against the exact double-backward HVP on
    the small test models (tests/test_spectrum_operator.py, 20 random vectors each): relative
    error ‖Hv_fd − Hv‖/‖Hv‖ below 3e-7 in float64; in float32 below 3e-4 for smooth models
    (tanh) and a median below 3e-3 for the small ReLU/max-pool models.

    It needs a loss twice differentiable at θ. A ReLU network whose pre-activations are exactly
    zero at θ (zero padding of bias-free convolutions, dead units) has a kink there: the
    gradient jumps across θ along v and the quotient grows like 1/ε instead of converging. On
    ResNet-20 (benchmarks/spectrum_gpu.py, CPU) the error was 0.2 at ε‖v‖ = 1e-3 and grew as
    the step shrank, in float64 as in float32. Use it for smooth networks (tanh, GELU, softplus);
    for ReLU networks keep the exact methods, which take the kink's second derivative as 0.
    """
    unit_roundoff = torch.finfo(dtype).eps / 2
    return unit_roundoff ** 0.5 * (1.0 + theta_norm) / v_norm


def _resolve_method(method: HvpMethod) -> str:
    if method != "auto":
        return method
    # Double backward through a retained gradient graph is the fastest HVP measured on CPU
    # (benchmarks/spectrum.py, docs/api.md): 1.1-1.3x the time of a full-data gradient,
    # against 2.4-2.6x when the graph is rebuilt per HVP and 2.9-3.6x for forward-over-reverse,
    # which redoes the forward and backward passes every time. No CUDA measurement was possible
    # for this package, so CUDA gets the same choice rather than an unmeasured one.
    return "double_backward"


@contextlib.contextmanager
def _module_modes(model: nn.Module, *, batchnorm_training: bool) -> Iterator[None]:
    """Every module in eval mode except BatchNorm layers when asked; old flags restored."""
    saved = [(module, module.training) for module in model.modules()]
    try:
        for module in model.modules():
            module.training = batchnorm_training and isinstance(module, _BatchNorm)
        yield
    finally:
        for module, training in saved:
            module.training = training
