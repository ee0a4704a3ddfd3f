"""Action distributions of continuous noise models: sampled with a numpy Generator and scored.

Clipping to the action bounds puts point masses on the bounds, and the ``uniform`` model puts a point
mass on the clean action, so :meth:`BoxDistribution.log_prob` scores against the natural mixed
measure: a density for continuous parts, a log-probability for atoms.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)


class BoxDistribution(ABC):
    """A batch of distributions over a Box action space, one per row."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One action per row, shape ``(B, *action_shape)``, inside the bounds."""

    @abstractmethod
    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """Log-likelihood of ``actions`` per row (summed over action dimensions), shape ``(B,)``."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The distribution's parameters as arrays (what ``info['expert_distribution']`` holds)."""


@dataclass
class ClippedGaussian(BoxDistribution):
    """``clip(Normal(mean, sigma), low, high)`` independently per action dimension."""

    mean: np.ndarray
    sigma: float
    low: np.ndarray
    high: np.ndarray

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Draw and clip to the bounds."""
        draw = self.mean + self.sigma * rng.standard_normal(self.mean.shape)
        return np.clip(draw, self.low, self.high).astype(self.mean.dtype)

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """Gaussian log-density inside the bounds; log of the clipped tail mass on a bound."""
        a = np.asarray(actions, dtype=np.float64).reshape(self.mean.shape)
        mean = self.mean.astype(np.float64)
        if self.sigma == 0.0:
            hit = np.isclose(a, np.clip(mean, self.low, self.high))
            return np.where(hit, 0.0, -np.inf).reshape(len(a), -1).sum(axis=1)
        z = (a - mean) / self.sigma
        density = -0.5 * z**2 - _LOG_SQRT_2PI - math.log(self.sigma)
        below = np.log(0.5 * _erfc((mean - self.low) / (self.sigma * math.sqrt(2))).astype(np.float64))
        above = np.log(0.5 * _erfc((self.high - mean) / (self.sigma * math.sqrt(2))).astype(np.float64))
        out = np.where(a <= self.low, below, np.where(a >= self.high, above, density))
        out = np.where((a < self.low) | (a > self.high), -np.inf, out)
        return out.reshape(len(a), -1).sum(axis=1)

    def params(self) -> dict[str, Any]:
        """Mean and standard deviation before clipping."""
        return {"mean": self.mean, "sigma": np.full(self.mean.shape, self.sigma)}


@dataclass
class UniformMixture(BoxDistribution):
    """With probability ``1 - epsilon`` the clean action (an atom), else uniform in the box."""

    clean: np.ndarray
    epsilon: float
    low: np.ndarray
    high: np.ndarray

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Draw the replaced rows uniformly in the box."""
        n = len(self.clean)
        replace = rng.random(n) < self.epsilon
        uniform = rng.uniform(self.low, self.high, size=self.clean.shape)
        mask = replace.reshape((n,) + (1,) * (self.clean.ndim - 1))
        return np.where(mask, uniform, self.clean).astype(self.clean.dtype)

    def log_prob(self, actions: np.ndarray) -> np.ndarray:
        """``log(1 - eps)`` at the clean action (atom); ``log(eps / volume)`` elsewhere in the box."""
        a = np.asarray(actions, dtype=np.float64).reshape(self.clean.shape)
        n = len(a)
        flat = a.reshape(n, -1)
        at_clean = np.all(np.isclose(flat, self.clean.reshape(n, -1)), axis=1)
        inside = np.all((a >= self.low) & (a <= self.high), axis=tuple(range(1, a.ndim)) or None)
        log_volume = float(np.sum(np.log(np.broadcast_to(self.high - self.low, a.shape[1:]))))
        with np.errstate(divide="ignore"):
            atom = math.log(1.0 - self.epsilon) if self.epsilon < 1.0 else -np.inf
            spread = math.log(self.epsilon) - log_volume if self.epsilon > 0.0 else -np.inf
        return np.where(at_clean, atom, np.where(inside, spread, -np.inf))

    def params(self) -> dict[str, Any]:
        """The clean action and the replacement probability."""
        return {"clean": self.clean, "epsilon": np.full(len(self.clean), self.epsilon)}
