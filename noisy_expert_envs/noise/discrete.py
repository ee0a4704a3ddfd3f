"""Noise models for ``Discrete`` action spaces, one small class each."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from gymnasium import spaces

from noisy_expert_envs.validation import check_choice, check_positive, check_probability
from noisy_expert_envs.noise.base import DiscreteNoise, NoiseModel, hash_to_unit, state_hash
from noisy_expert_envs.noise.distributions import BoxDistribution, UniformMixture


def _one_hot(clean: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(clean), n))
    out[np.arange(len(clean)), clean] = 1.0
    return out


class NoNoise(DiscreteNoise):
    """The clean expert itself: all mass on the clean action (works on Box spaces too)."""

    name = "none"
    space_type = spaces.Space

    def bind(self, action_space: spaces.Space, noise_seed: int = 0) -> "NoNoise":
        """Accept ``Discrete`` and ``Box`` spaces."""
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise TypeError(f"noise model 'none' supports Discrete and Box action spaces, got {action_space}")
        super().bind(action_space, noise_seed)
        return self

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: Any = None) -> np.ndarray:
        """One-hot on the clean action."""
        return _one_hot(clean, self.n_actions)

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator, preferences: Any = None) -> np.ndarray:
        """The clean action, without touching ``rng``."""
        return np.array(clean, copy=True)

    def distribution(self, obs: np.ndarray, clean: np.ndarray) -> BoxDistribution:
        """For Box spaces: an atom on the clean action."""
        space = self._require_bound()
        return UniformMixture(clean, 0.0, space.low, space.high)  # type: ignore[attr-defined]


class _EpsilonNoise(DiscreteNoise):
    """A model with one parameter, the probability ``epsilon`` of not playing the clean action."""

    def __init__(self, epsilon: float = 0.2) -> None:
        super().__init__()
        self.epsilon = check_probability("epsilon", epsilon)

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "epsilon": self.epsilon}


class UniformNoise(_EpsilonNoise):
    """With probability ``epsilon`` a uniformly random action (which may be the clean one).

    ``p(clean) = 1 - epsilon + epsilon / n``; the mode condition holds for every ``epsilon < 1``.
    """

    name = "uniform"

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: Any = None) -> np.ndarray:
        n = self.n_actions
        return np.full((len(clean), n), self.epsilon / n) + (1.0 - self.epsilon) * _one_hot(clean, n)

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator, preferences: Any = None) -> np.ndarray:
        """One uniform draw and one random action per row."""
        replace = rng.random(len(clean)) < self.epsilon
        random_actions = rng.integers(self.n_actions, size=len(clean))
        return np.where(replace, random_actions, clean).astype(np.int64)


class FixedWrongNoise(_EpsilonNoise):
    """With probability ``epsilon`` one fixed wrong action per state, else the clean action.

    The wrong action of each state comes from a hidden corruption map seeded by ``noise_seed`` (a hash
    of the observation), so repeated queries at one state always err the same way. For
    ``epsilon >= 1/2`` the wrong action is the mode: the mode condition is broken, and majority votes
    over many labels converge to the wrong action.
    """

    name = "fixed_wrong"

    def wrong_action(self, obs: np.ndarray, clean: np.ndarray) -> np.ndarray:
        """The hidden wrong action at each state (never the clean one)."""
        n = self.n_actions
        offset = 1 + (state_hash(obs, self.noise_seed) % np.uint64(n - 1)).astype(np.int64)
        return (np.asarray(clean, dtype=np.int64) + offset) % n

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: Any = None) -> np.ndarray:
        n = self.n_actions
        out = (1.0 - self.epsilon) * _one_hot(clean, n)
        out[np.arange(len(clean)), self.wrong_action(obs, clean)] += self.epsilon
        return out

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator, preferences: Any = None) -> np.ndarray:
        replace = rng.random(len(clean)) < self.epsilon
        return np.where(replace, self.wrong_action(obs, clean), clean).astype(np.int64)


EpsilonFn = Callable[[np.ndarray], np.ndarray]


class StateDependentNoise(DiscreteNoise):
    """Uniform noise whose level ``epsilon(s)`` varies with the state.

    Give ``epsilon_fn`` (a batch of observations -> per-row levels in [0, 1]) or a built-in
    ``profile`` scaled by ``epsilon`` (the maximum level):

    - ``"hashed"``: a fixed pseudo-random level in ``[0, epsilon]`` per state (seeded by ``noise_seed``);
    - ``"radial"``: ``epsilon * (1 - exp(-|s|^2 / scale^2))``, clean near the origin, noisy far from it.
    """

    name = "state_dependent"
    PROFILES = ("hashed", "radial")

    def __init__(
        self,
        epsilon: float = 0.4,
        profile: str = "hashed",
        epsilon_fn: EpsilonFn | None = None,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.epsilon = check_probability("epsilon", epsilon)
        self.profile = check_choice("profile", profile, self.PROFILES)
        self.scale = check_positive("scale", scale)
        if epsilon_fn is not None and not callable(epsilon_fn):
            raise TypeError(f"epsilon_fn must be a callable obs_batch -> levels, got {epsilon_fn!r}")
        self.epsilon_fn = epsilon_fn

    def config(self) -> dict[str, Any]:
        source = getattr(self.epsilon_fn, "__name__", repr(self.epsilon_fn)) if self.epsilon_fn else None
        return {"noise": self.name, "epsilon": self.epsilon, "profile": self.profile,
                "scale": self.scale, "epsilon_fn": source}

    def levels(self, obs: np.ndarray) -> np.ndarray:
        """The noise level of each row, validated to lie in [0, 1]."""
        obs = np.asarray(obs)
        if self.epsilon_fn is not None:
            eps = np.asarray(self.epsilon_fn(obs), dtype=np.float64).reshape(-1)
            if eps.shape != (len(obs),) or not np.all((eps >= 0.0) & (eps <= 1.0)):
                raise ValueError(
                    f"epsilon_fn must return {len(obs)} levels in [0, 1], got {np.asarray(eps)!r}"
                )
            return eps
        if self.profile == "hashed":
            return self.epsilon * hash_to_unit(state_hash(obs, self.noise_seed))
        sq_norm = np.square(obs.reshape(len(obs), -1).astype(np.float64)).sum(axis=1)
        return self.epsilon * (1.0 - np.exp(-sq_norm / self.scale**2))

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: Any = None) -> np.ndarray:
        n = self.n_actions
        eps = self.levels(obs)[:, None]
        return eps / n + (1.0 - eps) * _one_hot(clean, n)


class BoltzmannNoise(DiscreteNoise):
    """A softmax over the clean expert's action preferences at ``temperature``, like sampling an LM.

    Experts without preferences count as one-hot preferences (1 for the clean action, 0 elsewhere).
    Low temperature approaches the clean expert; high temperature approaches uniform.
    """

    name = "boltzmann"
    needs_preferences = True

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "temperature": self.temperature}

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None) -> np.ndarray:
        logits = _one_hot(clean, self.n_actions) if preferences is None else np.asarray(preferences, dtype=np.float64)
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


class StickyNoise(DiscreteNoise):
    """Temporally correlated noise: with probability ``repeat_prob`` repeat the last emitted action.

    Otherwise the label comes from ``inner`` (default: the clean action). The memory holds one last
    action per row of the batch, is cleared by :meth:`reset` (the wrapper calls it at every episode
    start) and when the batch size changes. Only :meth:`sample` updates the memory.
    """

    name = "sticky"

    def __init__(self, repeat_prob: float = 0.25, inner: NoiseModel | str | None = None) -> None:
        super().__init__()
        from noisy_expert_envs.noise.factory import make_noise  # local: the factory imports this module

        self.repeat_prob = check_probability("repeat_prob", repeat_prob)
        self.inner: DiscreteNoise = make_noise("none" if inner is None else inner)  # type: ignore[assignment]
        self._last: np.ndarray | None = None

    @property
    def needs_preferences(self) -> bool:  # type: ignore[override]
        return self.inner.needs_preferences

    def bind(self, action_space: spaces.Space, noise_seed: int = 0) -> "StickyNoise":
        super().bind(action_space, noise_seed)
        self.inner.bind(action_space, noise_seed)
        return self

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "repeat_prob": self.repeat_prob, "inner": self.inner.config()}

    def reset(self) -> None:
        self._last = None
        self.inner.reset()

    def _memory(self, batch: int) -> np.ndarray | None:
        return self._last if self._last is not None and len(self._last) == batch else None

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None) -> np.ndarray:
        inner = self.inner.probs(obs, clean, preferences)
        last = self._memory(len(clean))
        if last is None:
            return inner
        return self.repeat_prob * _one_hot(last, self.n_actions) + (1.0 - self.repeat_prob) * inner

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator, preferences: Any = None) -> np.ndarray:
        repeat = rng.random(len(clean)) < self.repeat_prob
        fresh = self.inner.sample(obs, clean, rng, preferences)
        last = self._memory(len(clean))
        out = fresh if last is None else np.where(repeat, last, fresh)
        self._last = np.asarray(out, dtype=np.int64)
        return self._last.copy()


class ChainNoise(DiscreteNoise):
    """Apply noise models in sequence: each stage corrupts the previous stage's output.

    ``p(a) = sum_b p_first(b | s, clean) * p_second(a | s, clean=b)``. Build with ``first >> second``
    or ``ChainNoise([first, second, ...])``. Stateful stages (``sticky``) are not allowed inside a
    chain, because their memory would see intermediate rather than emitted actions.
    """

    name = "chain"

    def __init__(self, stages: list[NoiseModel | str]) -> None:
        super().__init__()
        from noisy_expert_envs.noise.factory import make_noise

        if len(stages) < 1:
            raise ValueError("ChainNoise needs at least one stage")
        self.stages: list[DiscreteNoise] = [make_noise(s) for s in stages]  # type: ignore[misc]
        for stage in self.stages:
            if not isinstance(stage, DiscreteNoise) or isinstance(stage, StickyNoise):
                raise TypeError(f"ChainNoise stages must be stateless discrete noise models, got {stage!r}")

    @property
    def needs_preferences(self) -> bool:  # type: ignore[override]
        return any(s.needs_preferences for s in self.stages)

    def bind(self, action_space: spaces.Space, noise_seed: int = 0) -> "ChainNoise":
        super().bind(action_space, noise_seed)
        for i, stage in enumerate(self.stages):
            stage.bind(action_space, noise_seed + i)
        return self

    def config(self) -> dict[str, Any]:
        return {"noise": self.name, "stages": [s.config() for s in self.stages]}

    def probs(self, obs: np.ndarray, clean: np.ndarray, preferences: np.ndarray | None = None) -> np.ndarray:
        p = self.stages[0].probs(obs, clean, preferences)
        n = self.n_actions
        for stage in self.stages[1:]:
            # Row b of `given`: the stage's distribution when its input action is b.
            given = np.stack(
                [stage.probs(obs, np.full(len(clean), b), preferences) for b in range(n)], axis=1
            )
            p = np.einsum("ib,iba->ia", p, given)
        return p

    def sample(self, obs: np.ndarray, clean: np.ndarray, rng: np.random.Generator, preferences: Any = None) -> np.ndarray:
        out = clean
        for stage in self.stages:
            out = stage.sample(obs, out, rng, preferences)
        return out


def _chain(self: DiscreteNoise, other: NoiseModel | str) -> ChainNoise:
    return ChainNoise([self, other])


DiscreteNoise.__rshift__ = _chain  # type: ignore[attr-defined]
