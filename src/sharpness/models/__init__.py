"""Model zoo: small MLP/CNN for the default scale, the CIFAR networks of the papers, eigen-sam's
SimpleCNN and the sam-eos character-level Transformer.

Use :func:`build_model` with a spec dict; seed torch's global RNG first
(``torch.manual_seed(s)``) for reproducible initial weights.
"""

from .init import INIT_SCHEMES
from .mlp import ACTIVATIONS
from .registry import MODEL_NAMES, build_model, count_parameters, model_options
from .simple_cnn import SIMPLE_CNN_INITS, SIMPLE_CNN_PADDINGS
from .transformer import TRANSFORMER_INITS

__all__ = [
    "ACTIVATIONS",
    "INIT_SCHEMES",
    "MODEL_NAMES",
    "SIMPLE_CNN_INITS",
    "SIMPLE_CNN_PADDINGS",
    "TRANSFORMER_INITS",
    "build_model",
    "count_parameters",
    "model_options",
]
