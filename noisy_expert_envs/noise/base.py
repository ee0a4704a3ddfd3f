"""Base classes of noise models: what turns a clean expert into a noisy one.

A noise model maps (observations, clean actions) to the noisy expert's action distribution. It knows
nothing of the task: only the action space it is bound to, and optionally the clean expert's action
preferences (scores whose argmax is the clean action). To write a new model, subclass
:class:`DiscreteNoise` and implement :meth:`DiscreteNoise.probs` (sampling, mode margin and agreement
come for free), or subclass :class:`ContinuousNoise` and implement :meth:`ContinuousNoise.distribution`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from noisy_expert_envs.validation import check_int
from noisy_expert_envs.noise.distributions import BoxDistribution


class NoiseModel(ABC):
    """A noise model, bound to one action space by :meth:`bind` before use.

    Subclasses set ``name`` (the string accepted by ``noise=`` in ``gym.make``) and implement the
    abstract methods of :class:`DiscreteNoise` or :class:`ContinuousNoise`.
    """

    name: ClassVar[str] = ""
    #: True when the model reads the clean expert's action preferences (the oracle then computes them).
    needs_preferences: ClassVar[bool] = False
    #: The action-space type this model supports.
    space_type: ClassVar[type[spaces.Space]] = spaces.Space

    def __init__(self) -> None:
        self.action_space: spaces.Space | None = None
        self.noise_seed: int = 0

    def bind(self, action_space: spaces.Space, noise_seed: int = 0) -> "NoiseModel":
        """Attach the model to ``action_space``; ``noise_seed`` seeds hidden structure such as
        corruption maps (fixed for the lifetime of the model, unlike the per-episode sampling RNG)."""
        if not isinstance(action_space, self.space_type):
            raise TypeError(
                f"noise model {self.name or type(self).__name__!r} supports {self.space_type.__name__} "
                f"action spaces, got {action_space}"
            )
        self.action_space = action_space
        self.noise_seed = check_int("noise_seed", noise_seed, minimum=0)
        return self

    def reset(self) -> None:
        """Forget per-episode memory (only stateful models such as ``sticky`` have any)."""

    def config(self) -> dict[str, Any]:
        """The model's name and parameters, JSON-friendly (used in result records and metadata)."""
        return {"noise": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "noise")
        return f"{type(self).__name__}({params})"

    def _require_bound(self) -> spaces.Space:
        if self.action_space is None:
            raise RuntimeError(f"{self!r} is not bound to an action space; call bind(action_space) first")
        return self.action_space


class DiscreteNoise(NoiseModel):
    """Noise over a ``Discrete(n)`` action space, defined by its action probabilities."""

    space_type = spaces.Discrete

    @property
    def n_actions(self) -> int:
        """Number of actions of the bound space."""
        return int(self._require_bound().n)  # type: ignore[attr-defined]

    @abstractmethod
    def probs(
        self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None
    ) -> np.ndarray:
        """Action probabilities, shape ``(B, n_actions)``, for a batch of observations ``(B, ...)``
        and clean actions ``(B,)`` (action indices relative to the space's ``start``)."""

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator,
               preferences: np.ndarray | None = None) -> np.ndarray:
        """Draw one noisy action index per row, using ``rng`` only (inverse-CDF sampling)."""
        p = self.probs(obs, clean, preferences)
        cdf = np.cumsum(p, axis=1)
        u = rng.random(len(p)) * cdf[:, -1]
        return np.minimum((cdf <= u[:, None]).sum(axis=1), p.shape[1] - 1).astype(np.int64)

    def agreement(
        self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None
    ) -> np.ndarray:
        """Probability, per row, that the noisy expert emits the clean action (``p`` in the docs)."""
        p = self.probs(obs, clean, preferences)
        return p[np.arange(len(p)), clean]

    def mode_margin(
        self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None
    ) -> np.ndarray:
        """Per row, ``p(clean) - max over other actions``; > 0 everywhere is the mode condition."""
        p = self.probs(obs, clean, preferences)
        rows = np.arange(len(p))
        p_clean = p[rows, clean]
        others = p.copy()
        others[rows, clean] = -np.inf
        return p_clean - others.max(axis=1)


class ContinuousNoise(NoiseModel):
    """Noise over a ``Box`` action space, defined by a distribution that can be sampled and scored."""

    space_type = spaces.Box

    @abstractmethod
    def distribution(self, obs: np.ndarray, clean: np.ndarray) -> BoxDistribution:
        """The noisy expert's action distribution for each row of the batch."""

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator,
               preferences: np.ndarray | None = None) -> np.ndarray:
        """Draw one noisy action per row using ``rng``."""
        return self.distribution(obs, clean).sample(rng)

    def mode_margin(self, obs: np.ndarray, clean: np.ndarray, preferences: Any = None) -> None:
        """Undefined for continuous actions (there is no 'most likely action' margin): ``None``."""
        return None


def state_hash(obs: np.ndarray, seed: int) -> np.ndarray:
    """A seeded 64-bit hash per row of ``obs``: equal observations give equal hashes.

    Used for hidden per-state structure (corruption maps, per-state noise levels) that must be a fixed
    function of the state, as a tabular corruption table would be, but for any observation space.
    """
    rows = np.ascontiguousarray(np.asarray(obs, dtype=np.float64).reshape(len(obs), -1) + 0.0)
    words = rows.view(np.uint64)
    if len(rows) == 1:
        # One row: the same arithmetic on Python ints modulo 2**64, as the array path costs about
        # eight numpy calls per column. ``np.uint64(seed)`` accepts and rejects seeds exactly as the
        # array path does.
        h = (int(np.uint64(seed)) * 0x9E3779B97F4A7C15 + 1) & _MASK64
        for word in words[0].tolist():
            h = _splitmix64_int(h ^ word)
        return np.array([h], dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = np.full(len(rows), np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1))
        for column in words.T:
            h = _splitmix64(h ^ column)
    return h


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_MASK64 = (1 << 64) - 1


def _splitmix64_int(x: int) -> int:
    """:func:`_splitmix64` of one Python int in [0, 2**64), for the one-observation path."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def hash_to_unit(h: np.ndarray) -> np.ndarray:
    """Map 64-bit hashes to floats in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
