"""Build noise models from names and flat parameters, as ``gym.make(..., noise=..., epsilon=...)`` does."""

from __future__ import annotations

import inspect
from typing import Any

from gymnasium import spaces

from noisy_expert_envs.noise.base import ContinuousNoise, DiscreteNoise, NoiseModel
from noisy_expert_envs.noise.continuous import BoxUniformNoise, GaussianNoise
from noisy_expert_envs.noise.discrete import (
    BoltzmannNoise,
    FixedWrongNoise,
    NoNoise,
    StateDependentNoise,
    StickyNoise,
    UniformNoise,
)
from noisy_expert_envs.noise.teacher import TeacherNoise

DISCRETE_NOISE: dict[str, type[NoiseModel]] = {
    cls.name: cls
    for cls in (
        NoNoise, UniformNoise, FixedWrongNoise, StateDependentNoise, BoltzmannNoise, StickyNoise, TeacherNoise
    )
}
CONTINUOUS_NOISE: dict[str, type[NoiseModel]] = {
    cls.name: cls for cls in (NoNoise, GaussianNoise, BoxUniformNoise)
}


def register_noise(cls: type[NoiseModel]) -> type[NoiseModel]:
    """Make a user-written model available by its ``name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, (DiscreteNoise, ContinuousNoise))) or not cls.name:
        raise TypeError(f"register_noise needs a DiscreteNoise/ContinuousNoise subclass with a name, got {cls!r}")
    table = CONTINUOUS_NOISE if issubclass(cls, ContinuousNoise) else DISCRETE_NOISE
    table[cls.name] = cls
    return cls


def noise_parameters(cls: type[NoiseModel]) -> dict[str, Any]:
    """The constructor parameters of a noise model class with their defaults."""
    params = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in params.items() if name != "self"}


def default_noise_name(action_space: spaces.Space | None = None) -> str:
    """The noise that ``noise=None`` means everywhere: ``"gaussian"`` (sigma 0.2) for Box actions,
    ``"uniform"`` (epsilon 0.2) otherwise. The clean expert is ``noise="none"``."""
    return "gaussian" if isinstance(action_space, spaces.Box) else "uniform"


def noise_class(noise: str | None, action_space: spaces.Space | None = None) -> type[NoiseModel]:
    """The noise model class registered as ``noise`` (``None``: :func:`default_noise_name`) for the
    family of ``action_space`` (Box: continuous, else discrete); unknown names raise, naming the
    valid ones."""
    if noise is None:
        noise = default_noise_name(action_space)
    if not isinstance(noise, str):
        raise TypeError(f"noise must be a name or a NoiseModel instance, got {noise!r}")
    continuous = isinstance(action_space, spaces.Box)
    table = CONTINUOUS_NOISE if continuous else DISCRETE_NOISE
    if noise not in table:
        family = "Box" if continuous else "Discrete"
        raise ValueError(f"unknown noise model {noise!r} for {family} actions; valid choices: {sorted(table)}")
    return table[noise]


def make_noise(
    noise: NoiseModel | str | None = None,
    action_space: spaces.Space | None = None,
    **params: Any,
) -> NoiseModel:
    """Return an (unbound) noise model from a name plus flat parameters, or pass an instance through.

    ``action_space`` picks the discrete or continuous family (``"uniform"`` exists in both); without
    it the discrete family is used. ``None`` is the default noise of the family (``uniform``
    epsilon 0.2, ``gaussian`` sigma 0.2); ``"none"`` is the clean expert. Unknown names and
    parameters raise, naming the valid ones.
    """
    if isinstance(noise, NoiseModel):
        if params:
            raise TypeError(
                f"noise parameters {sorted(params)} were given with a noise model object {noise!r}; "
                "set them on the object instead"
            )
        return noise
    cls = noise_class(noise, action_space)
    valid = noise_parameters(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown parameter(s) {unknown} for noise model {noise!r}; valid parameters: {sorted(valid)}"
        )
    return cls(**params)
