"""sharpness: a reproducibility pipeline and library for SAM, edge of stability and Hessian spectra."""

__version__ = "0.1.0"
