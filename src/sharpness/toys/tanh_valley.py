"""late-sam's Example 4.1 (LS-F4a): one tanh unit fitting one point, L(u, v) = ½ tanh²(v·tanh u).

The minima are the line v = 0, where the Hessian is diag(0, tanh²u): sharpness tanh²u, so
smaller |u| is flatter. GD (which is SGD here: one data point) runs until ``switch_step``, then
normalized SAM; GD continuing alone is recorded beside it.
"""

from __future__ import annotations

import numpy as np


def _parts(w: np.ndarray):
    u, v = w[..., 0], w[..., 1]
    a = np.tanh(u)
    t = np.tanh(v * a)
    ls = t * (1 - t**2)  # dL/ds with s = v·tanh u
    lss = (1 - t**2) * (1 - 3 * t**2)
    su, sv = v * (1 - a**2), a
    return a, t, ls, lss, su, sv


def loss(w: np.ndarray) -> np.ndarray:
    return 0.5 * _parts(w)[1] ** 2


def gradient(w: np.ndarray) -> np.ndarray:
    _, _, ls, _, su, sv = _parts(w)
    return np.stack([ls * su, ls * sv], -1)


def hessian(w: np.ndarray) -> np.ndarray:
    a, _, ls, lss, su, sv = _parts(w)
    v = w[..., 1]
    huu = lss * su**2 + ls * v * (-2 * a * (1 - a**2))
    huv = lss * su * sv + ls * (1 - a**2)
    hvv = lss * sv**2
    return np.stack([np.stack([huu, huv], -1), np.stack([huv, hvv], -1)], -2)


def sharpness(w: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(hessian(w))[..., -1]


def minimum_sharpness(u) -> np.ndarray:
    """The sharpness tanh²u of the minimum (u, 0)."""
    return np.tanh(np.asarray(u, float)) ** 2


def path(start, lr: float, rho: float, switch_step: int, steps: int) -> np.ndarray:
    """GD to ``switch_step``, then normalized SAM (``rho`` = 0: GD throughout)."""
    w = np.empty((steps + 1, 2))
    w[0] = start
    for t in range(steps):
        g = gradient(w[t])
        norm = np.linalg.norm(g)
        if t >= switch_step and rho > 0 and norm > 0:
            g = gradient(w[t] + rho * g / norm)
        w[t + 1] = w[t] - lr * g
    return w


def simulate(options: dict, seeds: list[int]) -> tuple[dict, dict]:
    """Dims schedule ("gd", "gd->sam") × step; deterministic (one data point, no noise)."""
    o = options
    paths = np.array([path(o["start"], o["lr"], rho, o["switch_step"], o["steps"]) for rho in (0.0, o["rho"])])
    dims = ("schedule", "step")
    data = {"u": (dims, paths[..., 0]), "v": (dims, paths[..., 1]), "loss": (dims, loss(paths)), "sharpness": (dims, sharpness(paths))}
    return data, {"schedule": ["gd", f"gd->sam@{o['switch_step']}"], "step": np.arange(o["steps"] + 1)}
