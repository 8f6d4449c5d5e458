"""The point an operator works at: a copy of a network's trainable parameters and its buffers.

The copy is cast to the operator's ``dtype`` and moved to its ``device`` once, at construction;
the network then runs through ``torch.func.functional_call`` on it, so the model's own
parameters, buffers and BatchNorm statistics are never written. Frozen parameters are constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sharpness.spectrum.linear_operator import _check_vector


class ParameterSnapshot:
    """Flat-vector bookkeeping over the trainable parameters (``dim``, split and concatenate)."""

    def __init__(self, model: nn.Module, *, dtype: torch.dtype | None, device: torch.device | str | None,
                 requires_grad: bool) -> None:
        trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("model has no trainable parameters")
        self.model = model
        self.dtype = dtype if dtype is not None else trainable[0][1].dtype
        self.device = torch.device(device) if device is not None else trainable[0][1].device
        self._names = [name for name, _ in trainable]
        self._shapes = [p.shape for _, p in trainable]
        self._numels = [p.numel() for _, p in trainable]
        self.dim = sum(self._numels)
        self._params = {name: self._snapshot(p).requires_grad_(requires_grad) for name, p in trainable}
        frozen = [(name, p) for name, p in model.named_parameters() if not p.requires_grad]
        # Buffers and frozen parameters enter functional_call as constants of the same dtype.
        self._buffers = {name: self._snapshot(t) for name, t in [*model.named_buffers(), *frozen]}

    def parameters_vector(self) -> torch.Tensor:
        """The snapshot parameters flattened in ``named_parameters`` order, shape (dim,)."""
        return self._concat([p.detach() for p in self._params.values()])

    def unflatten(self, v: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat vector into parameter-shaped views keyed by parameter name."""
        _check_vector(v, self.dim)
        return dict(zip(self._names, self._split(v)))

    def _snapshot(self, t: torch.Tensor) -> torch.Tensor:
        dtype = self.dtype if t.is_floating_point() else t.dtype
        return t.detach().to(device=self.device, dtype=dtype, copy=True)

    def _split(self, v: torch.Tensor) -> list[torch.Tensor]:
        chunks = torch.split(v, self._numels)
        return [c.view(shape) for c, shape in zip(chunks, self._shapes)]

    def _concat(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in tensors])
