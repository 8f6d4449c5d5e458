"""Validation of model options, so that a bad config fails with a message naming the option."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_bool", "check_choice", "check_fraction", "check_positive_int", "check_spatial_size"]


def check_positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int ≥ ``minimum`` (bools rejected), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"option {name!r} must be an integer >= {minimum}, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError."""
    if value not in choices:
        raise ValueError(f"option {name!r} must be one of {tuple(choices)}, got {value!r}")
    return value  # type: ignore[return-value]


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool, else raise ValueError (so "false" is not truthy)."""
    if not isinstance(value, bool):
        raise ValueError(f"option {name!r} must be true or false, got {value!r}")
    return value


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float if it lies in [0, 1), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"option {name!r} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_spatial_size(model_name: str, input_shape: Sequence[int], minimum: int) -> None:
    """Raise ValueError unless ``input_shape`` is (C, H, W) with H and W at least ``minimum``."""
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width), got {tuple(input_shape)}")
    if min(input_shape[1:]) < minimum:
        raise ValueError(
            f"model {model_name!r} needs inputs of at least {minimum}x{minimum}, got {tuple(input_shape)}"
        )
