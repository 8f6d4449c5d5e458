"""The experiment catalogue: every figure and table id the pipeline draws, declared once.

Each entry names the kind of study it draws (``None`` for an analytic figure that needs no study)
and the :mod:`sharpness.report` module that reduces and draws it. The config checks, the rules,
the schema test and the report all read ids from here. This module imports nothing heavy: the
workflow reads it while parsing the Snakefile.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    caption: str
    kind: str | None  # the study kind whose stores it reads; None: computed from theory alone
    module: str  # sharpness.report.<module> holds its data and drawing functions
    default_direction: str | None = None
    needs_spectrum: bool = False
    problem: str | None = None  # toy figures: the problem whose store they read


_SWITCHING = dict(kind="switching", module="switching")
_SPECTRUM = dict(kind="switching", module="spectrum", needs_spectrum=True)
_DYNAMICS = dict(kind="dynamics", module="dynamics")

# sam-eos shows five figures per setting (MLP: Figs. 2–6, CNN: 7–11, Transformer: 12–16).
_SAM_EOS = (
    "top-3 Hessian eigenvalues along GD (ρ = 0) training with 2/η, one panel per η",
    "top-3 Hessian eigenvalues along SAM training (ρ of the figure) with 2/η and the SAM-edge at the current ‖g‖",
    "the SAM run of the previous figure without 2/η, zoomed on the eigenvalues and the SAM-edge",
    "training loss, GD (ρ = 0) vs SAM",
    "|cos| of the gradient at the iterate and at the SAM point with the top Hessian eigenvector, with the level of a random direction",
)
_SAM_EOS_SETTINGS = {2: "MLP, full batch", 7: "CNN, full batch", 12: "character Transformer LM, minibatch (Hessian on a fixed minibatch)"}
_SAM_EOS_NOTE = (" Mean over seeds ± sample sd (ddof = 1), n on each panel; the x-axis counts steps, where sam-eos plots "
                 "wall-clock seconds. Each panel states the median of λmax/edge over the last quarter of the steps.")

FIGURES = {
    "LS-F1": Entry(
        "Test error vs epoch for SGD, SAM and SGD→SAM switched late (late-sam Fig. 1); mean ± sample sd (ddof = 1) over n seeds.",
        default_direction="sgd->sam",
        **_SWITCHING,
    ),
    "LS-F3": Entry(
        "SGD→SAM: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion "
        "(T−t)/T (late-sam Fig. 3); gaps are run − full SAM per seed, mean ± sample sd (ddof = 1) over n seeds, diverged "
        "runs left out and counted, open markers where some seed had not converged at T.",
        default_direction="sgd->sam",
        **_SWITCHING,
    ),
    "LS-F5": Entry(
        "SAM→SGD: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion t/T "
        "(late-sam Fig. 5); gaps are run − full SAM, mean ± sample sd (ddof = 1) over n seeds.",
        default_direction="sam->sgd",
        **_SWITCHING,
    ),
    "LS-F7": Entry("SGD→SAM as LS-F3 for further architectures (late-sam Fig. 7).", default_direction="sgd->sam", **_SWITCHING),
    "LS-F9": Entry("SAM→SGD as LS-F5 for further architectures (late-sam Fig. 9).", default_direction="sam->sgd", **_SWITCHING),
    "LS-F8": Entry("SGD→ASAM (Kwon et al.'s adaptive SAM, T = |w| + η on the weights) as LS-F3 (late-sam Fig. 8).",
                   default_direction="sgd->asam", **_SWITCHING),
    "LS-F13": Entry("SGD→USAM (unnormalized SAM, ε = ρg) as LS-F3 (late-sam Fig. 13).", default_direction="sgd->usam", **_SWITCHING),
    "LS-F11": Entry("AdamW→SAM (SAM on an AdamW base) for ViTs as LS-F3, generalization and final sharpness "
                    "(late-sam Fig. 11 reports generalization only).", default_direction="adamw->sam", **_SWITCHING),
    "LS-F12": Entry("SGD→SAM with the squared loss (one-hot targets) as LS-F3 (late-sam Fig. 12).",
                    default_direction="sgd->sam", **_SWITCHING),
    "LS-F15": Entry("SAM→SGD for several ρ: final test loss and error against the SAM proportion t/T, one line per ρ "
                    "(late-sam Fig. 15); mean ± sample sd (ddof = 1) over n seeds.", kind="switching", module="sweeps"),
    "LS-F6": Entry("SGD→AT: natural and robust (untargeted L∞ PGD) test error along training for SGD, AT and SGD→AT "
                   "switched late, and the final errors against the AT proportion (late-sam Fig. 6); mean ± sample sd "
                   "(ddof = 1) over n seeds.", kind="switching", module="adversarial"),
    "ES-F3": Entry(
        "Hessian spectral density (stochastic Lanczos quadrature, one fixed grid and bandwidth) at the end of "
        "training, SGD vs SAM (and Eigen-SAM where the study runs it; eigen-sam Fig. 3, right); mean over n seeds. "
        "Where the study runs Eigen-SAM with several α, the final test accuracy against α (eigen-sam Fig. 3, left), "
        "mean ± sample sd (ddof = 1).",
        **_SPECTRUM,
    ),
    "ES-F5": Entry(
        "Alignment |cos(v_t, v_1)| of the power-iteration estimate with the top Hessian eigenvector (Lanczos) vs "
        "the number of HVP steps, at a mid-training checkpoint (eigen-sam Fig. 5); mean ± sample sd (ddof = 1) over n seeds.",
        **_SPECTRUM,
    ),
}

FIGURES.update({
    f"LB-F{first + i}": Entry(f"sam-eos Fig. {first + i} ({setting}): {what}." + _SAM_EOS_NOTE, **_DYNAMICS)
    for first, setting in _SAM_EOS_SETTINGS.items()
    for i, what in enumerate(_SAM_EOS)
})
FIGURES.update({
    "LB-F1": Entry("sam-eos Fig. 1: the SAM-edge divided by 2/η as a function of α = η‖g‖/(2ρ), "
                   "(α/2)(√(1 + 4/α) − 1), with its small-α asymptote √α; computed from the closed form.",
                   kind=None, module="analytic"),
    "LS-F10": Entry("late-sam Fig. 10: λmax along full-batch GD, full-batch SAM and switches between them, with 2/η; "
                    "the legend gives the median of λmax/(2/η) over the last quarter of the steps. Mean ± sample sd over seeds.",
                    **_DYNAMICS),
    "FH-F3": Entry("far-from-home Fig. 3: the largest NTK eigenvalue (at the Gauss–Newton scale of the mse loss, so that it "
                   "compares with 2/η) along full-batch GD and unnormalized SAM, with the GD-EOS 2/η and the SAM-EOS "
                   "η(λ + ρλ²) = 2.", **_DYNAMICS),
    "FH-F4": Entry("far-from-home Fig. 4 (MSE on tanh outputs, ±1 labels): λmax, η_tλmax and η_t(λmax + ρλmax²) along "
                   "minibatch SGD and unnormalized SAM for several ρ, with the level 2; the Hessian is taken on a fixed "
                   "training subset.", **_DYNAMICS),
    "FH-F8": Entry("far-from-home Fig. 8: as FH-F4 with the cross-entropy loss.", **_DYNAMICS),
    "FH-F5": Entry("far-from-home Fig. 5: early SAM (SAM, then SGD) against late SAM (SGD, then SAM) and the pure runs: "
                   "λmax, and the GD-normalized ηλ and SAM-normalized η(λ + ρλ²) eigenvalues against 2.", **_DYNAMICS),
    "FH-F6": Entry("far-from-home Fig. 6 (MSE): the minibatch gradient norm at the iterate along training for several ρ "
                   "(mean over the steps between records); the legend gives its sd/mean over the run.", **_DYNAMICS),
    "FH-F9": Entry("far-from-home Fig. 9: as FH-F6 with the cross-entropy loss.", **_DYNAMICS),
    "ES-F1": Entry("eigen-sam Fig. 1: alignment Align(ε, v₁) = 1 − min_{s=±1}‖ε/‖ε‖ − s·v₁‖ of the SAM perturbation with "
                   "the top Hessian eigenvector (on a fixed training minibatch), and λmax, along minibatch SAM training; "
                   "the mean over seeds and each seed's line (Align's range is [1 − √2, 1]).", **_DYNAMICS),
})

_TOY = dict(kind="toy", module="toys")
FIGURES.update({
    "FH-F2": Entry("far-from-home Fig. 2: λmax(JJᵀ) of the quadratic regression model simulated in z–J space, GD vs "
                   "unnormalized SAM at a small and a large η, one line per initialisation, with 2/η and the SAM-EOS; "
                   "right: η(λ + ρλ²) against 2 at the large η.", problem="quadratic_regression", **_TOY),
    "FH-F7": Entry("far-from-home Fig. 7: at one η, λmax(JJᵀ) and η(λ + ρλ²) for a sweep of ρ, one line per "
                   "initialisation; the legend counts the stable initialisations.", problem="quadratic_regression", **_TOY),
    "BR-F1": Entry("ravines Fig. 1: the first iterates of normalized SAM on L = ½(λ₁w₁² + λ₂w₂²) over the loss "
                   "contours, and the closed-form 2-cycle ±ηρλ₁/(2 − ηλ₁)·e₁ they approach.", problem="sam_quadratic", **_TOY),
    "BR-F3": Entry("ravines Fig. 3: GD and normalized SAM on f(w) = w₁²/(1 + w₂²/2) + w₂²/2 (our reading of a garbled "
                   "formula) from (0.1, 0.1), over the contours of f, and the sharpness along the paths.", problem="ravine", **_TOY),
    "BR-F4": Entry("ravines Fig. 4: as BR-F3 from (1, 1).", problem="ravine", **_TOY),
    "BR-F5": Entry("ravines Fig. 5: normalized SAM against GD with Gaussian gradient noise N(0, σ²I), σ = ρ/(2 − η) "
                   "(our reading), from (1, 1); one noisy path per seed.", problem="ravine", **_TOY),
    "LS-F4a": Entry("late-sam Fig. 4a: GD, then normalized SAM, on L = ½ tanh²(v·tanh u) in the (u, v) plane over the "
                    "loss contours; the minima v = 0 have sharpness tanh²u.", problem="tanh_valley", **_TOY),
})

_LANDSCAPE = dict(kind="landscape", module="landscape")
FIGURES.update({
    "LS-F4b": Entry("late-sam Fig. 4b: train loss after switching the converged SGD solution to SAM, against the steps t′ "
                    "since the switch; red: the mean over the trials (minibatch orders) with its 95 % CI, grey: ten trials.",
                    **_LANDSCAPE),
    "LS-F16": Entry("late-sam Fig. 16: as LS-F4b, train and test loss.", **_LANDSCAPE),
    "LS-F4c": Entry("late-sam Fig. 4c: train loss and its second difference (L(λ+h) + L(λ−h) − 2L(λ))/(2h)², as the "
                    "paper prints it, along θ_λ = (1 − λ)θ_SGD→SAM + λθ_SGD; mean ± sample sd over seeds.", **_LANDSCAPE),
    "LS-F14": Entry("late-sam Fig. 14: train-loss contours on the plane through θ_SGD→SAM spanned by δ = θ_SGD − θ_SGD→SAM "
                    "and a filter-normalized random direction (Li et al. 2018), one panel per random draw.", **_LANDSCAPE),
})

TABLES = {
    "LS-F3": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SGD→SAM).", default_direction="sgd->sam", **_SWITCHING),
    "LS-F5": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SAM→SGD).", default_direction="sam->sgd", **_SWITCHING),
    "ES-T1": Entry("Final test accuracy of SGD, SAM and Eigen-SAM, each run alone (eigen-sam Table 1); mean ± half-width "
                   "of the 95 % t-interval over n seeds, with the paper's number where it reports the setting.",
                   kind="switching", module="sweeps"),
    "ES-T2": Entry("Fine-tuning accuracy of SGD, SAM and Eigen-SAM from pretrained weights (eigen-sam Table 2: ViT-B/16 "
                   "from ImageNet on CIFAR-10/100); mean ± 95 % CI over n seeds, with the paper's number where it reports the "
                   "setting; the initialised_from column names the pretrained model.", kind="switching", module="sweeps"),
    "ES-T3": Entry("Eigen-SAM's final test accuracy against the refresh period p of its top-eigenvector estimate "
                   "(eigen-sam Table 3, ResNet-18), SAM for reference; mean ± 95 % CI over n seeds.", kind="switching", module="sweeps"),
    "ES-T4": Entry("As ES-T3 for a second model (eigen-sam Table 4, WRN-28-10).", kind="switching", module="sweeps"),
    "LS-T2": Entry(
        "Measured ‖H‖²_F and gradient-noise alignment γ at the final SGD and SAM solutions against late-sam's "
        "Table 2 linear-stability bounds ‖H‖²_F ≤ B/(η²γ) (SGD) and ‖H‖²_F(1 + ρ²γ‖H‖²_F/B) ≤ B/(η²γ) (unnormalized "
        "SAM), as each model's fraction of its own bound. Theorem 4.1 assumes squared loss near a zero-loss minimum, "
        "no momentum and no weight decay: rows within those assumptions use the bound as stated; rows outside them "
        "name the assumptions that fail and the corrections applied (not the paper's).",
        **_SPECTRUM,
    ),
}


def entry(exp_id: str) -> Entry:
    """The catalogue entry of a figure or table id."""
    return FIGURES.get(exp_id) or TABLES[exp_id]


def entries(exp_id: str) -> list[Entry]:
    """Every entry of an id: LS-F3 is both a figure and a table."""
    return [e for e in (FIGURES.get(exp_id), TABLES.get(exp_id)) if e is not None]
