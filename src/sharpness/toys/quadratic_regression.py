"""far-from-home's quadratic regression model, simulated exactly in z–J space (FH-F2, FH-F7).

The model (far-from-home eq. 1, with the linear term read as Gθ): f(θ) = y + Gθ + ½Q(θ, θ),
D outputs, P parameters, Q a D × P × P tensor symmetric in its last two indices, and the loss
L = ½‖z‖² of the residuals z = f(θ) − y_tr (a sum over the D outputs, their eq. 2). The
Jacobian is J = G + Q(θ, ·). Because f is exactly quadratic, a step Δ changes the residuals and
the Jacobian exactly by

    z ← z + JΔ + ½Q(Δ, Δ),      J ← J + Q(Δ, ·),

so GD (Δ = −ηJᵀz) and unnormalized SAM (Δ = −ηJ̃ᵀz̃ at the ascent point δ = ρJᵀz, with
z̃ = z + Jδ + ½Q(δ, δ) and J̃ = J + Q(δ, ·)) run in z–J space without θ: the appendix's eqs. 5,
7–8 are the expansions of these updates. The GD edge is ηλ_max(JJᵀ) = 2 and the SAM-EOS
η(λ + ρλ²) = 2 (far-from-home eq. 13).

The paper does not state the scales of Q, G = J₀ and z₀ (it defers to Agarwala et al. 2022):
ours are entries of Q from N(0, q_std²) symmetrised as (Q + Qᵀ)/√2, of G from N(0, j_std²) and
of z₀ from N(0, z_std²), one draw per seed.
"""

from __future__ import annotations

import numpy as np

DIVERGED_LOSS = 1e8  # ½‖z‖² beyond this (or non-finite) ends a trajectory as diverged


def draw(D: int, P: int, q_std: float, j_std: float, z_std: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q (D, P, P), J₀ = G (D, P), z₀ (D,)) of one initialisation, float64."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((D, P, P)) * q_std
    q = (q + q.transpose(0, 2, 1)) / np.sqrt(2)
    return q, rng.standard_normal((D, P)) * j_std, rng.standard_normal(D) * z_std


class QuadraticModel:
    """Q as a (P, D·P) matrix, so that Q(a, ·) for a batch of vectors a is one matrix product."""

    def __init__(self, q: np.ndarray):
        self.D, self.P, _ = q.shape
        self._q = np.ascontiguousarray(q.transpose(1, 0, 2).reshape(self.P, self.D * self.P))

    def contract(self, a: np.ndarray) -> np.ndarray:
        """Q(a, ·) for a of shape (R, P): (R, D, P) with entries Σ_i Q[α, i, j] a_i."""
        return (a @ self._q).reshape(len(a), self.D, self.P)

    def step(self, z: np.ndarray, jac: np.ndarray, lr: float, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One exact GD (ρ = 0) or unnormalized-SAM update of R trajectories at once:
        z (R, D), jac (R, D, P), rho (R,)."""
        ascent = rho[:, None] * np.einsum("rdp,rd->rp", jac, z)  # δ = ρ Jᵀ z
        q_ascent = self.contract(ascent)
        z_sam = z + np.einsum("rdp,rp->rd", jac + 0.5 * q_ascent, ascent)
        delta = -lr * np.einsum("rdp,rd->rp", jac + q_ascent, z_sam)  # Δ = −η J̃ᵀ z̃
        q_delta = self.contract(delta)
        return z + np.einsum("rdp,rp->rd", jac + 0.5 * q_delta, delta), jac + q_delta


def trajectory(q, jac0, z0, lr: float, rhos, steps: int, record_every: int) -> dict[str, np.ndarray]:
    """λmax(JJᵀ) and ½‖z‖² every ``record_every`` steps (and at 0 and the end) for every ρ; a
    trajectory that diverges is NaN from the record where it was found."""
    model = QuadraticModel(q)
    rhos = np.asarray(rhos, dtype=float)
    z = np.repeat(z0[None], len(rhos), 0)
    jac = np.repeat(jac0[None], len(rhos), 0)
    recorded = sorted({0, *range(record_every, steps + 1, record_every), steps})
    lam, loss = np.full((len(rhos), len(recorded)), np.nan), np.full((len(rhos), len(recorded)), np.nan)
    alive = np.ones(len(rhos), bool)
    for step in range(steps + 1):
        if step in recorded:
            i = recorded.index(step)
            with np.errstate(invalid="ignore", over="ignore"):
                current = 0.5 * (z**2).sum(1)
            alive &= np.isfinite(current) & (current < DIVERGED_LOSS)
            if alive.any():
                lam[alive, i] = np.linalg.eigvalsh(np.einsum("rdp,rep->rde", jac[alive], jac[alive]))[:, -1]
                loss[alive, i] = current[alive]
        if step == steps or not alive.any():
            break
        with np.errstate(invalid="ignore", over="ignore"):
            z, jac = model.step(z, jac, lr, rhos)
    return {"ntk_max": lam, "loss": loss, "steps": np.asarray(recorded)}


def simulate(options: dict, seeds: list[int]) -> tuple[dict, dict]:
    """Every (seed, lr, rho): dims seed × lr × rho × step."""
    o = options
    lam, loss = [], []
    for seed in seeds:
        q, jac0, z0 = draw(o["D"], o["P"], o["q_std"], o["j_std"], o["z_std"], seed)
        runs = [trajectory(q, jac0, z0, lr, o["rho"], o["steps"], o["record_every"]) for lr in o["lr"]]
        lam.append([r["ntk_max"] for r in runs])
        loss.append([r["loss"] for r in runs])
    lam, loss = np.asarray(lam), np.asarray(loss)
    lr = np.asarray(o["lr"])[None, :, None, None]
    rho = np.asarray(o["rho"])[None, None, :, None]
    dims = ("seed", "lr", "rho", "step")
    data = {
        "ntk_max": (dims, lam),
        "loss": (dims, loss),
        "gd_normalized": (dims, lr * lam),
        "sam_normalized": (dims, lr * (lam + rho * lam**2)),
        "diverged": (dims[:3], np.isnan(lam[..., -1]).astype(np.int8)),
    }
    coords = {"seed": list(seeds), "lr": list(o["lr"]), "rho": list(o["rho"]), "step": runs[0]["steps"]}
    return data, coords
