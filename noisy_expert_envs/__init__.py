"""noisy-expert-envs: Gymnasium tasks whose expert is a configurable noisy oracle.

``gym.make("NoisyExpert/<Task>", noise=..., **params)`` works without importing this package (it is
a ``gymnasium.envs`` plugin); importing it registers the ids as well.
"""

from noisy_expert_envs.noise import (
    BoltzmannNoise,
    BoxUniformNoise,
    ChainNoise,
    ContinuousNoise,
    DiscreteNoise,
    FixedWrongNoise,
    GaussianNoise,
    NoiseModel,
    NoNoise,
    StateDependentNoise,
    StickyNoise,
    TeacherNoise,
    UniformNoise,
    make_noise,
    register_noise,
)
from noisy_expert_envs.oracle import NoisyOracle
from noisy_expert_envs.registration import TASKS, make_noisy_env, register_envs, registered_ids
from noisy_expert_envs.wrapper import NoisyExpertWrapper

__version__ = "0.1.0"

register_envs()

__all__ = [
    "BoltzmannNoise", "BoxUniformNoise", "ChainNoise", "ContinuousNoise", "DiscreteNoise",
    "FixedWrongNoise", "GaussianNoise", "NoNoise", "NoiseModel", "NoisyExpertWrapper", "NoisyOracle",
    "StateDependentNoise", "StickyNoise", "TASKS", "TeacherNoise", "UniformNoise", "make_noise",
    "make_noisy_env", "register_envs", "register_noise", "registered_ids",
]
