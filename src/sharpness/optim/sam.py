"""Sharpness-Aware Minimization (Foret et al. 2021) and its unnormalized and adaptive variants.

The update (late-sam eq. 3, sam-eos eq. 1): with g = ∇L_ξ(θ) on a minibatch ξ,
    ε = ρ g / ‖g‖            (normalized SAM; one global norm over all parameters)
    ε = ρ g                  (unnormalized SAM, "USAM": late-sam eq. 6, far-from-home eq. 6)
    ε = ρ T² g / ‖T g‖       (adaptive SAM, Kwon et al. 2021: T = |θ| + η elementwise)
and the base optimizer applies ∇L_ξ(θ + ε), the gradient taken at the perturbed point, to θ.

The interface is the one PyTorch users know from the widely used SAM implementation:
``first_step`` perturbs, ``second_step`` restores θ and calls the base optimizer, and
``step(closure)`` does both around a closure that recomputes loss and gradients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import torch
from torch import nn

# Guards the division by ‖g‖ at an exact stationary point (then ε = 0 in effect).
_NORM_EPS = 1e-12


class SAM(torch.optim.Optimizer):
    """Wraps a base optimizer; ``SAM(params, torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)``.

    The base optimizer shares this optimizer's ``param_groups``, so learning-rate changes made
    through either are seen by both. ``adaptive`` selects ASAM with T = |θ| + ``adaptive_eta``
    (η = 0 is the form of the widely used implementation; Kwon et al. use η = 0.01), and
    ``normalized=False`` USAM. Both may be set per parameter group: ASAM as Kwon et al. ran it
    scales only the weights and leaves biases with T = 1 (see ``asam_parameter_groups``).
    """

    def __init__(
        self,
        params,
        base_optimizer_cls: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        normalized: bool = True,
        adaptive_eta: float = 0.0,
        **base_kwargs,
    ):
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho}")
        defaults = dict(rho=rho, adaptive=adaptive, normalized=normalized, adaptive_eta=adaptive_eta, **base_kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer_cls(self.param_groups, **base_kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> torch.Tensor:
        """Move θ to θ + ε; returns ‖g‖ (the global gradient norm, before any scaling)."""
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            scale = group["rho"] / (grad_norm + _NORM_EPS) if group["normalized"] or group["adaptive"] else group["rho"]
            if group["adaptive"]:
                # ε = ρ T² g / ‖T g‖: the norm is the adaptive one of _grad_norm.
                t = _adaptive_scale(params, group["adaptive_eta"])
                eps = torch._foreach_mul(grads, torch._foreach_mul(t, t))
                torch._foreach_mul_(eps, scale)
            else:
                # Out of place: one launch per tensor group, not a clone per parameter and a multiply.
                eps = torch._foreach_mul(grads, scale)
            torch._foreach_add_(params, eps)
            for p, e in zip(params, eps):
                self.state[p]["e_w"] = e
        if zero_grad:
            self.zero_grad()
        return grad_norm

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Restore θ and let the base optimizer apply the gradient taken at θ + ε."""
        for group in self.param_groups:
            params = [p for p in group["params"] if "e_w" in self.state[p]]
            if params:
                torch._foreach_sub_(params, [self.state[p].pop("e_w") for p in params])
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """One SAM step. Gradients at θ must already be in ``.grad`` (the first pass);
        ``closure`` must zero nothing, recompute the loss and call ``backward`` (the second pass)."""
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes loss and gradients")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss

    def _grad_norm(self) -> torch.Tensor:
        """One global 2-norm over all parameters (adaptive groups: of T g)."""
        norms = []
        for group in self.param_groups:
            grads = [p.grad for p in group["params"] if p.grad is not None]
            if not grads:
                continue
            if group["adaptive"]:
                params = [p for p in group["params"] if p.grad is not None]
                grads = torch._foreach_mul(grads, _adaptive_scale(params, group["adaptive_eta"]))
            norms.extend(torch._foreach_norm(grads))
        if not norms:
            return torch.zeros(())
        return torch.linalg.vector_norm(torch.stack(norms))

    # The momentum buffers live in the base optimizer: a checkpoint must hold its state.
    def state_dict(self):
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups


def _adaptive_scale(params: list[torch.Tensor], eta: float) -> list[torch.Tensor]:
    """ASAM's T = |θ| + η, elementwise."""
    t = torch._foreach_abs(params)
    if eta:
        torch._foreach_add_(t, eta)
    return t


def asam_parameter_groups(model: nn.Module | Iterable[tuple[str, torch.Tensor]], eta: float = 0.01) -> list[dict]:
    """Parameter groups for ASAM as Kwon et al.'s code applies it: every parameter whose name
    contains "weight" (so also BatchNorm/LayerNorm scales) gets T = |θ| + η; the others (biases,
    class tokens, position embeddings) T = 1, i.e. a plain SAM direction inside the one global
    norm ‖T g‖. ``model``: a module, or (name, tensor) pairs such as a copy of its parameters
    (the dynamics tracking takes ASAM's step on one)."""
    weights, others = [], []
    named = model.named_parameters() if isinstance(model, nn.Module) else model
    for name, p in named:
        (weights if "weight" in name else others).append(p)
    groups = [dict(params=weights, adaptive=True, adaptive_eta=eta)]
    if others:
        groups.append(dict(params=others, adaptive=False, adaptive_eta=0.0))
    return groups


@contextlib.contextmanager
def frozen_bn_statistics(model: nn.Module):
    """BatchNorm in train mode normalises with batch statistics but leaves its running
    statistics (and ``num_batches_tracked``) as they were: SAM's second, perturbed pass must not
    update them a second time.

    The statistics are saved and copied back, not switched off with ``track_running_stats``:
    the forward pass is then the same program in both passes, so ``torch.compile`` traces one
    graph for them, not two selected by a guard on every BatchNorm's flag (and a CUDA graph of
    the pass can be replayed by both). The normalisation itself reads batch statistics either
    way, so the outputs are the same."""
    buffers = [
        b
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        for b in (m.running_mean, m.running_var, m.num_batches_tracked)
        if b is not None
    ]
    # Copies in one kernel launch per dtype, not three per layer: small models are launch-bound.
    saved = torch._foreach_mul(buffers, 1) if buffers else []
    try:
        yield
    finally:
        if buffers:
            with torch.no_grad():
                torch._foreach_copy_(buffers, saved)
