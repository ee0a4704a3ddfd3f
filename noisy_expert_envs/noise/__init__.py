"""Noise models: turn a clean expert's action into the noisy expert's action distribution."""

from noisy_expert_envs.noise.base import ContinuousNoise, DiscreteNoise, NoiseModel
from noisy_expert_envs.noise.continuous import BoxUniformNoise, GaussianNoise
from noisy_expert_envs.noise.discrete import (
    BoltzmannNoise,
    ChainNoise,
    FixedWrongNoise,
    NoNoise,
    StateDependentNoise,
    StickyNoise,
    UniformNoise,
)
from noisy_expert_envs.noise.distributions import BoxDistribution, ClippedGaussian, UniformMixture
from noisy_expert_envs.noise.factory import (
    CONTINUOUS_NOISE,
    DISCRETE_NOISE,
    default_noise_name,
    make_noise,
    noise_parameters,
    register_noise,
)
from noisy_expert_envs.noise.teacher import TeacherNoise

__all__ = [
    "BoltzmannNoise", "BoxDistribution", "BoxUniformNoise", "CONTINUOUS_NOISE", "ChainNoise",
    "ClippedGaussian", "ContinuousNoise", "DISCRETE_NOISE", "DiscreteNoise", "FixedWrongNoise", "default_noise_name",
    "GaussianNoise", "NoNoise", "NoiseModel", "StateDependentNoise", "StickyNoise", "TeacherNoise",
    "UniformMixture", "UniformNoise", "make_noise", "noise_parameters", "register_noise",
]
