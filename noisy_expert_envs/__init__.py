"""noisy-expert-envs: Gymnasium tasks whose expert is a configurable noisy oracle.

Importing this package registers the ``NoisyExpert/<Task>`` ids (idempotently), so
``gym.make("NoisyExpert/<Task>", noise=..., **params)`` works after ``import noisy_expert_envs`` (or
``gym.register_envs(noisy_expert_envs)``), and ``gym.make("noisy_expert_envs:NoisyExpert/<Task>")``
works without it, on every Gymnasium line. Gymnasium 0.29 also registers them at ``import gymnasium``
through our ``gymnasium.envs`` entry point; 1.0 removed that plugin mechanism.
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
