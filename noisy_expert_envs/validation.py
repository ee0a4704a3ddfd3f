"""Argument checks shared by noise models, tasks and the oracle.

Every check raises at construction with a message naming the bad value and what is valid, so a bad
configuration never surfaces as a crash deep inside a rollout.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_real(name: str, value: Any) -> float:
    """Return ``value`` as a float; ``TypeError`` unless it is a real number (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1]; ``ValueError`` for NaN, inf or out-of-range values."""
    value = check_real(name, value)
    if not (0.0 <= value <= 1.0):  # also false for NaN
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0 with ``allow_zero``)."""
    value = check_real(name, value)
    bound_ok = value >= 0.0 if allow_zero else value > 0.0
    if not (math.isfinite(value) and bound_ok):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {relation}, got {value!r}")
    return value


def check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int in ``[minimum, maximum]`` (no upper limit for ``maximum=None``);
    ``TypeError`` for non-integers (bools included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if maximum is None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum:_}] (the upper limit keeps "
                         f"memory sane), got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise naming the valid choices."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {sorted(choices)}")
    return value
