"""The neural tangent kernel of a network on a fixed data subset, applied on parameter space.

``J`` (D × P) is the Jacobian of all network outputs (N samples × C outputs per sample,
flattened sample-major, so D = N·C rows) with respect to the P trainable parameters. The NTK
``J Jᵀ`` (D × D) and ``Jᵀ J`` (P × P) have the same nonzero eigenvalues (both are ``σ_i²`` for
the singular values σ_i of J), so the operator works on parameter space like the Hessian one and
every spectrum algorithm runs on it unchanged: ``matvec(v) = scale · Jᵀ (J v)``, where ``J v``
is a forward-mode JVP (``torch.func.jvp``) and ``Jᵀ u`` a VJP (``torch.func.vjp``), one batch at
a time. Since ``Jᵀ J = Σ_b J_bᵀ J_b`` over the row blocks of the batches, unequal batch sizes
are exact with no weighting: every sample's C rows count once, whatever batch it is in.

Normalisation (far-from-home, Agarwala & Dauphin 2023, Sec. 2.1, eq. 2-5): their loss is
``L = ½‖z‖²`` with ``z = f(θ) − y`` summed over all D outputs, so the Gauss–Newton matrix is
``Jᵀ J`` itself, GD moves ``z`` by ``−η J Jᵀ z`` and the edge of stability is
``η λ_max(J Jᵀ) = 2`` (Fig. 2 and 3). ``scale=1`` is that convention. This package's ``mse``
(``sharpness.train.losses.make_loss``) is ``(1/(N·C)) Σ (f − y)²``, whose Gauss–Newton matrix is
``(2/(N·C)) Jᵀ J``: ``scale="mse"`` picks that factor, and the operator's top eigenvalue is then
the one to compare with ``2/η`` for a network trained on that loss (it equals the Hessian's
where the model is linear in θ or the residuals vanish).

As in :class:`~sharpness.spectrum.operator.HessianOperator`: a snapshot of the trainable
parameters is taken at construction (cast to ``dtype``, moved to ``device``), the network runs
through ``torch.func.functional_call``, every module is in eval mode (BatchNorm uses its running
statistics and never writes them; dropout is off), and each module's flag is restored after
every pass.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
from torch import nn

from sharpness.spectrum.linear_operator import _check_vector
from sharpness.spectrum.operator import Batch, _module_modes
from sharpness.spectrum.snapshot import ParameterSnapshot

ScaleRule = Literal["mse"]
Scale = float | ScaleRule


class NTKOperator(ParameterSnapshot):
    """``scale · Jᵀ J`` (P × P) for the Jacobian ``J`` of all outputs of ``batches``.

    ``batches`` is a list of ``(inputs, targets)`` as for the Hessian operator; targets are not
    used (the NTK does not depend on them) and are not copied. Each ``matvec`` costs, per batch,
    one JVP and one VJP (a forward pass with tangents, a forward pass and a backward pass);
    ``n_hvp`` counts matvecs, the name the spectrum algorithms read for any operator.

    ``scale`` is a positive float, or ``"mse"`` for ``2 / (N·C)``: the factor that makes the
    operator the Gauss–Newton matrix of the package's ``mse`` loss (mean over samples and
    outputs of the squared error, no ½). ``N`` is the total number of samples and ``C`` the
    number of outputs per sample, read from the network's output on the first batch.
    """

    def __init__(
        self,
        model: nn.Module,
        batches: Sequence[Batch],
        *,
        scale: Scale = 1.0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if len(batches) == 0:
            raise ValueError("batches is empty")
        super().__init__(model, dtype=dtype, device=device, requires_grad=False)
        self._inputs = [self._snapshot(x) for x, _ in batches]
        self.batch_sizes = [int(x.shape[0]) for x in self._inputs]
        self.n_samples = sum(self.batch_sizes)
        # C: every batch must give the same per-sample output shape (checked in matvec).
        self.output_shape = self._output_shape(self._inputs[0])
        self.outputs_per_sample = math.prod(self.output_shape)
        self.n_outputs = self.n_samples * self.outputs_per_sample  # D, the kernel's size

        self.scale_rule = scale if isinstance(scale, str) else "explicit"
        self.scale = _resolve_scale(scale, self.n_outputs)
        self.n_hvp = 0

    # ----------------------------------------------------------------- public interface

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """``scale · Jᵀ J v`` for a flat vector ``v`` of length ``dim``."""
        _check_vector(v, self.dim)
        v = v.to(dtype=self.dtype, device=self.device)
        self.n_hvp += 1
        tangents = dict(zip(self._names, self._split(v)))
        total = torch.zeros_like(v)
        with self._modes():
            for x in self._inputs:

                def outputs(params: dict[str, torch.Tensor], x: torch.Tensor = x) -> torch.Tensor:
                    return torch.func.functional_call(self.model, {**params, **self._buffers}, (x,))

                output, jv = torch.func.jvp(outputs, (self._params,), (tangents,))  # (n_b, *C)
                self._check_output(output, x)
                _, pullback = torch.func.vjp(outputs, self._params)
                (jtjv,) = pullback(jv)
                total += self._concat([jtjv[name] for name in self._names])
        return self.scale * total

    def describe(self) -> dict[str, Any]:
        return {
            "operator": "ntk",
            "scale": self.scale,
            "scale_rule": self.scale_rule,
            "bn_mode": "eval",
            "n_samples": self.n_samples,
            "batch_sizes": list(self.batch_sizes),
            "outputs_per_sample": self.outputs_per_sample,
            "n_outputs": self.n_outputs,
            "dim": self.dim,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }

    # ----------------------------------------------------------------- helpers

    def _output_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        with torch.no_grad(), self._modes():
            output = torch.func.functional_call(self.model, {**self._params, **self._buffers}, (x,))
        if output.ndim == 0 or output.shape[0] != x.shape[0]:
            raise ValueError(f"the model's output {tuple(output.shape)} has no batch dimension "
                             f"of {x.shape[0]} samples")
        return tuple(output.shape[1:])

    def _check_output(self, output: torch.Tensor, x: torch.Tensor) -> None:
        # Shapes only: no device sync. A different C would make D, and scale="mse", wrong.
        if tuple(output.shape) != (x.shape[0], *self.output_shape):
            raise ValueError(f"batch of {x.shape[0]} samples gave output {tuple(output.shape)}; "
                             f"the first batch gave (n, {', '.join(map(str, self.output_shape))})")

    @contextlib.contextmanager
    def _modes(self) -> Iterator[None]:
        with _module_modes(self.model, batchnorm_training=False):
            yield



def _resolve_scale(scale: Scale, n_outputs: int) -> float:
    if scale == "mse":
        # mean over N·C squared errors: ∇²_f = (2/(N·C)) I, so Jᵀ ∇²_f J = (2/(N·C)) Jᵀ J.
        return 2.0 / n_outputs
    if isinstance(scale, str):
        raise ValueError(f"scale must be a positive number or 'mse', got {scale!r}")
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return scale
