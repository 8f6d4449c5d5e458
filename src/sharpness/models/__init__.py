"""Model zoo: small MLP/CNN for the default scale and the CIFAR networks of the papers.

Use :func:`build_model` with a spec dict; seed torch's global RNG first
(``torch.manual_seed(s)``) for reproducible initial weights.
"""

from .init import INIT_SCHEMES
from .mlp import ACTIVATIONS
from .registry import MODEL_NAMES, build_model, count_parameters, model_options

__all__ = ["ACTIVATIONS", "INIT_SCHEMES", "MODEL_NAMES", "build_model", "count_parameters", "model_options"]
