"""Eigen-SAM (Luo et al., *Explicit Eigenvalue Regularization Improves Sharpness-Aware
Minimization*; key ``eigen-sam``, papers/003_9650e988cfe4ab33.txt, Sect. 5.2, Algorithms 1–2).

With g = ∇L_ξ(θ) on the minibatch ξ and v̂ a unit estimate of the top Hessian eigenvector:
    v̂ = v̂∥ + v̂⊥,   v̂∥ = ⟨v̂, g⟩ g / ‖g‖²                                   (eq. 7)
    ε = g/‖g‖ + α · sign(⟨g, v̂⟩) · v̂⊥                                        (eq. 8)
    θ ← θ − η ∇L_ξ(θ + ρ ε)                                           (Alg. 2, lines 7–8)
v̂⊥ is the plain orthogonal component of the unit v̂ (not renormalised, so ‖v̂⊥‖ ≤ 1) and the
sum is not renormalised either: ‖ρ ε‖ = ρ √(1 + α² ‖v̂⊥‖²) ≥ ρ. The authors' code
(github.com/RitianLuo/EigenSAM, utils.modify_gradient_with_projection followed by SAM's
unnormalised first step) does the same. sign(⟨g, v̂⟩) makes ε independent of the arbitrary
sign of v̂; at ⟨g, v̂⟩ = 0 it is 0 and ε is the SAM one. With α = 0 this is SAM exactly.

v̂ comes from the power method (Alg. 1), q steps v ← Hv/‖Hv‖ of Hessian-vector products on the
current minibatch, every p optimizer steps (p = 100, q = 5 in the paper). Two choices differ
from the authors' code on purpose: the refresh counts every SAM step of the run (a counter held
here and checkpointed), starting with step 0, so no step falls back to plain SAM for lack of an
estimate; and the first start is a unit vector drawn from a seeded ``torch.Generator`` (later
refreshes warm-start from the previous v̂, as the authors' code does), so runs are reproducible.

The HVP is supplied by the caller (``first_step(hvp=...)``), built from the minibatch loss at θ
with double backward. The caller therefore chooses the BatchNorm mode of that loss (the authors
use eval mode, i.e. running statistics; train mode uses the batch statistics of ξ) and must keep
any extra forward pass from updating running statistics (see ``frozen_bn_statistics``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .sam import _NORM_EPS, SAM

# A Hessian-vector product: direction (one tensor per parameter) -> H·direction (None = zero).
HVP = Callable[[list[torch.Tensor]], Sequence[torch.Tensor | None]]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """⟨a, b⟩ over all tensors together."""
    return torch.stack([torch.vdot(x.reshape(-1), y.reshape(-1)) for x, y in zip(a, b)]).sum()


def _global_norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))


def _normalized(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    # clamp, not "+ eps": exact division whenever the norm is not (nearly) zero.
    return list(torch._foreach_div(tensors, _global_norm(tensors).clamp_min(_NORM_EPS)))


def power_iteration(hvp: HVP, start: Sequence[torch.Tensor], steps: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Algorithm 1: ``steps`` times v ← Hv/‖Hv‖ (one global norm), from ``start`` normalised.

    Returns (v, ⟨u, Hu⟩) with u the last input (unit norm): the Rayleigh quotient that comes
    without an extra HVP. ``hvp`` must not modify its argument.
    """
    if steps < 1:
        raise ValueError(f"power iteration needs at least one step, got {steps}")
    v = _normalized([t.detach() for t in start])
    for _ in range(steps):
        hv = [torch.zeros_like(x) if h is None else h.detach() for x, h in zip(v, hvp(v))]
        rayleigh = _dot(v, hv)
        v = _normalized(hv)
    return v, rayleigh


class EigenSAM(SAM):
    """``EigenSAM(params, torch.optim.SGD, rho=0.05, alpha=0.2, lr=0.1, momentum=0.9)``.

    Use as SAM, passing ``hvp`` to ``first_step`` whenever ``refresh_due`` (every
    ``refresh_every`` steps, step 0 included); each refresh calls it ``power_steps`` times.
    After each ``first_step``: ``last_alignment`` = cos(ε, sign(⟨g, v̂⟩) v̂), i.e. |cos(ε, v̂)|,
    and ``last_eigenvalue_estimate`` = the Rayleigh quotient of the last refresh.
    v̂ spans every parameter of every group, in ``param_groups`` order.
    """

    def __init__(
        self,
        params,
        base_optimizer_cls: type[torch.optim.Optimizer],
        rho: float = 0.05,
        alpha: float = 0.2,
        refresh_every: int = 100,
        power_steps: int = 5,
        seed: int = 0,
        **base_kwargs,
    ):
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if refresh_every < 1 or power_steps < 1:
            raise ValueError(f"refresh_every and power_steps must be >= 1, got {refresh_every}, {power_steps}")
        super().__init__(params, base_optimizer_cls, rho=rho, adaptive=False, normalized=True, **base_kwargs)
        self.alpha, self.refresh_every, self.power_steps = alpha, refresh_every, power_steps
        self._generator = torch.Generator().manual_seed(seed)
        self._eigenvector: list[torch.Tensor] | None = None
        self._steps_taken = 0
        self.last_alignment: torch.Tensor | None = None
        self.last_eigenvalue_estimate: torch.Tensor | None = None

    @property
    def refresh_due(self) -> bool:
        """Whether the next ``first_step`` re-estimates v̂ (and so needs ``hvp``)."""
        return self._steps_taken % self.refresh_every == 0

    @property
    def eigenvector(self) -> list[torch.Tensor] | None:
        """The current estimate v̂ (unit norm over all parameters), None before the first refresh."""
        return self._eigenvector

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False, hvp: HVP | None = None) -> torch.Tensor:
        """Refresh v̂ if due (HVPs at θ), then move θ to θ + ρε (eq. 8); returns ‖g‖."""
        if self.refresh_due:
            self._refresh(hvp)
        params = self._params()
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        grad_norm = self._grad_norm()
        eps = self._perturbation(grads, grad_norm)
        torch._foreach_add_(params, eps)
        for p, e in zip(params, eps):
            self.state[p]["e_w"] = e
        self.last_alignment = self._alignment(eps)
        self._steps_taken += 1
        if zero_grad:
            self.zero_grad()
        return grad_norm

    def step(self, closure: Callable[[], torch.Tensor] | None = None, hvp: HVP | None = None):
        """SAM.step with the HVP for a due refresh."""
        if closure is None:
            raise ValueError("EigenSAM.step needs a closure that recomputes loss and gradients")
        self.first_step(zero_grad=True, hvp=hvp)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _refresh(self, hvp: HVP | None) -> None:
        if hvp is None:
            raise ValueError(
                f"Eigen-SAM re-estimates the top eigenvector at step {self._steps_taken} "
                f"(every {self.refresh_every} steps): first_step needs hvp, a Hessian-vector product on this minibatch"
            )
        start = self._eigenvector if self._eigenvector is not None else self._random_start()
        # The caller's closure may run forward/backward passes: the first step runs under no_grad.
        with torch.enable_grad():
            self._eigenvector, self.last_eigenvalue_estimate = power_iteration(hvp, start, self.power_steps)

    def _random_start(self) -> list[torch.Tensor]:
        # Drawn on the CPU generator so the start does not depend on the device.
        return [torch.randn(p.shape, generator=self._generator, dtype=p.dtype).to(p.device) for p in self._params()]

    def _perturbation(self, grads: list[torch.Tensor], grad_norm: torch.Tensor) -> list[torch.Tensor]:
        """ρ (g/‖g‖ + α sign(⟨g, v̂⟩) v̂⊥) per parameter, ρ from each parameter's group."""
        v = self._eigenvector
        dot = _dot(grads, v)
        v_perp = torch._foreach_sub(v, torch._foreach_mul(grads, dot / (grad_norm + _NORM_EPS) ** 2))
        eps, start = [], 0
        for group in self.param_groups:
            end = start + len(group["params"])
            # ρ g/‖g‖ computed as SAM computes it, so that α = 0 reproduces SAM bit for bit.
            group_eps = torch._foreach_mul(grads[start:end], group["rho"] / (grad_norm + _NORM_EPS))
            torch._foreach_add_(group_eps, torch._foreach_mul(v_perp[start:end], group["rho"] * self.alpha * torch.sign(dot)))
            eps.extend(group_eps)
            start = end
        return eps

    def _alignment(self, eps: list[torch.Tensor]) -> torch.Tensor:
        dot = _dot(eps, self._eigenvector)
        # The sign of v̂ is arbitrary: measure against the orientation eq. 8 uses (≥ 0).
        return dot.abs() / _global_norm(eps).clamp_min(_NORM_EPS)

    # -- checkpoints: the base optimizer's state as SAM stores it, plus what v̂ depends on ----
    def state_dict(self):
        eigen = dict(
            eigenvector=None if self._eigenvector is None else [v.clone() for v in self._eigenvector],
            steps_taken=self._steps_taken,
            generator=self._generator.get_state(),
            eigenvalue_estimate=self.last_eigenvalue_estimate,
        )
        return {"base": super().state_dict(), "eigen": eigen}

    def load_state_dict(self, state_dict):
        """Accepts an EigenSAM state, or a plain SAM one (then v̂ is estimated at the next step)."""
        if "eigen" not in state_dict:
            super().load_state_dict(state_dict)
            self._eigenvector, self._steps_taken, self.last_eigenvalue_estimate = None, 0, None
            return
        super().load_state_dict(state_dict["base"])
        eigen = state_dict["eigen"]
        self._eigenvector = self._matching_params(eigen["eigenvector"])
        self._steps_taken = int(eigen["steps_taken"])
        self._generator.set_state(eigen["generator"].cpu())
        self.last_eigenvalue_estimate = eigen["eigenvalue_estimate"]

    def _matching_params(self, vectors) -> list[torch.Tensor] | None:
        if vectors is None:
            return None
        params = self._params()
        if len(vectors) != len(params) or any(v.shape != p.shape for v, p in zip(vectors, params)):
            raise ValueError("the saved Eigen-SAM eigenvector does not match this optimizer's parameters")
        return [v.to(device=p.device, dtype=p.dtype).clone() for v, p in zip(vectors, params)]
