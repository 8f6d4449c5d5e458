"""SAM against GD and noisy SGD on a two-dimensional ravine: ravines Figs. 3–5 (BR-F3/F4/F5).

f(w) = w₁²/(1 + w₂²/2) + w₂²/2 — our reading of the garbled formula (``docs/experiments.md``, BR-F3):
it equals w₁² + w₂²/2 on the axis w₂ = 0 and gets flatter in w₁ as |w₂| grows, so a drift in
|w₂| is a drift towards flatter points. The Hessian's top eigenvalue along the path is recorded
as its sharpness. Methods: ``gd`` (w ← w − η∇f), ``sam`` (normalized, at w + ρ∇f/‖∇f‖) and
``sgd`` (GD with Gaussian gradient noise N(0, σ²I), σ = ρ/(2 − η), our reading of the paper),
from each start; the seeds drive the noise (GD and SAM do not depend on them).
"""

from __future__ import annotations

import numpy as np

METHODS = ("gd", "sam", "sgd")


def loss(w: np.ndarray) -> np.ndarray:
    w1, w2 = w[..., 0], w[..., 1]
    return w1**2 / (1 + w2**2 / 2) + w2**2 / 2


def gradient(w: np.ndarray) -> np.ndarray:
    w1, w2 = w[..., 0], w[..., 1]
    c = 1 + w2**2 / 2
    return np.stack([2 * w1 / c, -(w1**2) * w2 / c**2 + w2], axis=-1)


def hessian(w: np.ndarray) -> np.ndarray:
    """(…, 2, 2) Hessian of f."""
    w1, w2 = w[..., 0], w[..., 1]
    c = 1 + w2**2 / 2
    h11 = 2 / c
    h12 = -2 * w1 * w2 / c**2
    h22 = -(w1**2) / c**2 + 2 * w1**2 * w2**2 / c**3 + 1
    return np.stack([np.stack([h11, h12], -1), np.stack([h12, h22], -1)], -2)


def sharpness(w: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(hessian(w))[..., -1]


def path(method: str, start, lr: float, rho: float, steps: int, seed: int) -> np.ndarray:
    """Iterates w₀…w_steps of one method (shape (steps + 1, 2))."""
    rng = np.random.default_rng(seed)
    sigma = rho / (2 - lr)
    w = np.empty((steps + 1, 2))
    w[0] = start
    for t in range(steps):
        g = gradient(w[t])
        if method == "sam":
            norm = np.linalg.norm(g)
            g = gradient(w[t] + rho * g / norm) if norm > 0 else g
        elif method == "sgd":
            g = g + sigma * rng.standard_normal(2)
        w[t + 1] = w[t] - lr * g
    return w


def simulate(options: dict, seeds: list[int]) -> tuple[dict, dict]:
    """Dims algorithm × start × seed × step."""
    o = options
    paths = np.array([[[path(m, s, o["lr"], o["rho"], o["steps"], seed) for seed in seeds] for s in o["starts"]] for m in METHODS])
    dims = ("algorithm", "start", "seed", "step")
    data = {
        "w1": (dims, paths[..., 0]),
        "w2": (dims, paths[..., 1]),
        "loss": (dims, loss(paths)),
        "sharpness": (dims, sharpness(paths)),
    }
    starts = [f"({s[0]:g}, {s[1]:g})" for s in o["starts"]]
    return data, {"algorithm": list(METHODS), "start": starts, "seed": list(seeds), "step": np.arange(o["steps"] + 1)}
