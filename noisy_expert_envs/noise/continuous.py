"""Noise models for ``Box`` (continuous) action spaces."""

from __future__ import annotations

from typing import Any

import numpy as np

from noisy_expert_envs.validation import check_positive, check_probability
from noisy_expert_envs.noise.base import ContinuousNoise
from noisy_expert_envs.noise.distributions import ClippedGaussian, UniformMixture


class GaussianNoise(ContinuousNoise):
    """Add ``Normal(0, sigma)`` to the clean action, then clip to the action bounds."""

    name = "gaussian"

    def __init__(self, sigma: float = 0.2) -> None:
        super().__init__()
        self.sigma = check_positive("sigma", sigma, allow_zero=True)

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "sigma": self.sigma}

    def distribution(self, obs: np.ndarray, clean: np.ndarray) -> ClippedGaussian:
        space = self._require_bound()
        return ClippedGaussian(clean, self.sigma, space.low, space.high)  # type: ignore[attr-defined]


class BoxUniformNoise(ContinuousNoise):
    """With probability ``epsilon`` an action drawn uniformly from the box, else the clean action."""

    name = "uniform"

    def __init__(self, epsilon: float = 0.2) -> None:
        super().__init__()
        self.epsilon = check_probability("epsilon", epsilon)

    def bind(self, action_space: Any, noise_seed: int = 0) -> "BoxUniformNoise":
        super().bind(action_space, noise_seed)
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise ValueError(f"uniform noise needs a bounded Box action space, got {action_space}")
        return self

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "epsilon": self.epsilon}

    def distribution(self, obs: np.ndarray, clean: np.ndarray) -> UniformMixture:
        space = self._require_bound()
        return UniformMixture(clean, self.epsilon, space.low, space.high)  # type: ignore[attr-defined]
