"""The noisy oracle: clean expert + noise model + its own seeded RNG + query counters."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from noisy_expert_envs.experts.base import as_expert
from noisy_expert_envs.noise.base import NoiseModel
from noisy_expert_envs.noise.distributions import BoxDistribution
from noisy_expert_envs.noise.factory import make_noise

#: Mixed into episode seeds so the oracle's random stream differs from the environment's own.
_ORACLE_SEED_SALT = 0x4E4F495359  # "NOISY"


def oracle_seed(env_seed: int) -> np.random.SeedSequence:
    """The seed sequence of the oracle for an environment reset with ``env_seed``."""
    return np.random.SeedSequence([int(env_seed), _ORACLE_SEED_SALT])


class NoisyOracle:
    """A clean expert corrupted by a noise model, queryable at any batch of observations.

    Every call of :meth:`probs`, :meth:`distribution` or :meth:`sample` costs one query per
    observation (``queries``); :meth:`clean` is privileged access to the clean expert, counted
    separately (``clean_queries``). A single observation (shape of the observation space) gives an
    unbatched answer. Picklable, so it travels to ``SubprocVecEnv`` workers.

    Args:
        expert: callable ``obs_batch -> actions``, an SB3 model, or anything with ``predict``.
        noise: a :class:`NoiseModel` or its name (see ``make_noise``).
        action_space: the task's ``Discrete`` or ``Box`` action space.
        observation_space: the task's observation space (for batch-shape checks).
        seed: seed of the sampling RNG (``reset_rng`` re-seeds it).
        noise_seed: seed of the noise model's hidden structure (e.g. the ``fixed_wrong`` map).
        **noise_params: flat noise parameters when ``noise`` is a name.
    """

    def __init__(
        self,
        expert: Any,
        noise: NoiseModel | str | None,
        action_space: spaces.Space,
        observation_space: spaces.Space,
        *,
        seed: int | np.random.SeedSequence | None = None,
        noise_seed: int = 0,
        **noise_params: Any,
    ) -> None:
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise TypeError(f"the oracle supports Discrete and Box action spaces, got {action_space}")
        self.action_space = action_space
        self.observation_space = observation_space
        self.expert = as_expert(expert)
        self.noise = make_noise(noise, action_space, **noise_params).bind(action_space, noise_seed)
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.rng = np.random.default_rng(seed)
        self.queries = 0
        self.clean_queries = 0
        self._obs_shape = tuple(observation_space.shape or ())
        # Python-int bounds of a Discrete space, for the single-observation fast path.
        self._start = int(action_space.start) if self.discrete else 0  # type: ignore[attr-defined]
        self._stop = self._start + int(action_space.n) if self.discrete else 0  # type: ignore[attr-defined]

    # -- public API -------------------------------------------------------------------------------

    def reset_rng(self, seed: int | np.random.SeedSequence | None) -> None:
        """Re-seed the sampling RNG (the wrapper does this from the episode seed)."""
        self.rng = np.random.default_rng(seed)

    def reset_episode(self) -> None:
        """Clear per-episode noise memory (``sticky``)."""
        self.noise.reset()

    def clean(self, obs: np.ndarray) -> np.ndarray:
        """The clean expert's actions (privileged; counted in ``clean_queries``, not ``queries``)."""
        batch, single = self._batch(obs)
        actions = self._clean_actions(batch)
        self.clean_queries += len(batch)
        return self._unbatch(self._to_space(actions), single)

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """The noisy expert's action probabilities, shape ``(B, n_actions)`` (Discrete only)."""
        if not self.discrete:
            raise TypeError("probs() needs a Discrete action space; use distribution() for Box actions")
        batch, single = self._batch(obs)
        clean = self._clean_actions(batch)
        p = self.noise.probs(batch, clean, self._preferences(batch))  # type: ignore[attr-defined]
        self.queries += len(batch)
        return self._unbatch(p, single)

    def distribution(self, obs: np.ndarray) -> BoxDistribution:
        """The noisy expert's action distribution for a batch (Box only): sample it or score it."""
        if self.discrete:
            raise TypeError("distribution() needs a Box action space; use probs() for Discrete actions")
        batch, _ = self._batch(obs)
        dist = self.noise.distribution(batch, self._clean_actions(batch))  # type: ignore[attr-defined]
        self.queries += len(batch)
        return dist

    def sample(self, obs: np.ndarray) -> np.ndarray:
        """One noisy label per observation, drawn with the oracle's own RNG."""
        batch, single = self._batch(obs)
        clean = self._clean_actions(batch)
        prefs = self._preferences(batch)
        actions = self.noise.sample(batch, clean, self.rng, prefs)
        self.queries += len(batch)
        if single and self.discrete:
            # Fast path (the wrapper's every step): shift one scalar rather than the whole array;
            # ``np.int64 + int`` is the same np.int64 that ``(array + start)[0]`` gives.
            return np.asarray(actions, dtype=np.int64)[0] + self._start
        return self._unbatch(self._to_space(actions), single)

    def agreement(self, obs: np.ndarray) -> np.ndarray:
        """Per observation, the probability that the noisy expert emits the clean action (Discrete)."""
        p = np.atleast_2d(self.probs(obs))
        clean = self._clean_actions(self._batch(obs)[0])
        return p[np.arange(len(p)), clean]

    def mode_margin(self, obs: np.ndarray) -> np.ndarray | None:
        """Per observation, ``p(clean) - max other p`` (Discrete); ``None`` for Box actions."""
        if not self.discrete:
            return None
        batch, _ = self._batch(obs)
        clean = self._clean_actions(batch)
        self.queries += len(batch)
        return self.noise.mode_margin(batch, clean, self._preferences(batch))  # type: ignore[attr-defined]

    def config(self) -> dict[str, Any]:
        """The noise configuration (JSON-friendly)."""
        return {**self.noise.config(), "noise_seed": self.noise.noise_seed}

    def __repr__(self) -> str:
        return f"NoisyOracle(expert={self.expert!r}, noise={self.noise!r}, queries={self.queries})"

    # -- internals --------------------------------------------------------------------------------

    def _batch(self, obs: np.ndarray) -> tuple[np.ndarray, bool]:
        obs = np.asarray(obs)
        if obs.shape == self._obs_shape:
            return obs[None], True
        if obs.shape[1:] != self._obs_shape:
            raise ValueError(
                f"observations must have shape {self._obs_shape} or (batch, *{self._obs_shape}), "
                f"got {obs.shape}"
            )
        return obs, False

    @staticmethod
    def _unbatch(values: np.ndarray, single: bool) -> np.ndarray:
        return values[0] if single else values

    def _preferences(self, batch: np.ndarray) -> np.ndarray | None:
        if not self.noise.needs_preferences:
            return None
        prefs_fn = getattr(self.expert, "preferences", None)
        if prefs_fn is None:
            return None
        prefs = np.asarray(prefs_fn(batch), dtype=np.float64)
        expected = (len(batch), int(self.action_space.n))  # type: ignore[attr-defined]
        if prefs.shape != expected or not np.all(np.isfinite(prefs)):
            raise ValueError(f"expert.preferences must return finite scores of shape {expected}, got {prefs!r}")
        return prefs

    def _clean_actions(self, batch: np.ndarray) -> np.ndarray:
        """Call the expert and check its actions; Discrete actions become indices from 0."""
        raw = self.expert(batch)
        if (
            self.discrete
            and len(batch) == 1
            and type(raw) is np.ndarray
            and raw.shape in ((1,), (1, 1))
            and raw.dtype.kind in "iu"
            and self._start <= raw.item() < self._stop
        ):
            # Fast path for one observation (the wrapper labels one per step): an integer array
            # holding one valid action passes every check below, and testing it with Python
            # scalars costs a fraction of the array checks. Anything else, including every
            # invalid output, takes the general path, which raises the same errors as before.
            return np.array([raw.item() - self._start], dtype=np.int64)
        raw = np.asarray(raw)
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            integral = np.issubdtype(raw.dtype, np.integer) or (
                np.issubdtype(raw.dtype, np.floating) and np.all(np.isfinite(raw)) and np.all(raw % 1 == 0)
            )
            if raw.shape not in ((len(batch),), (len(batch), 1)) or not integral:
                raise ValueError(
                    f"expert returned {raw!r} (shape {raw.shape}) for {len(batch)} observation(s); "
                    f"expected {len(batch)} integer actions of {space}"
                )
            actions = raw.reshape(-1)
            index = actions.astype(np.int64) - int(space.start)
            if np.any((index < 0) | (index >= space.n)):
                bad = actions[(index < 0) | (index >= space.n)]
                raise ValueError(
                    f"expert returned action(s) {bad.tolist()} outside {space}; valid actions: "
                    f"integers {int(space.start)}..{int(space.start + space.n - 1)}"
                )
            return index
        box: spaces.Box = space  # type: ignore[assignment]
        try:
            actions = raw.reshape((len(batch),) + box.shape).astype(box.dtype, copy=False)
        except ValueError:
            raise ValueError(
                f"expert returned actions of shape {raw.shape} for {len(batch)} observation(s); "
                f"expected {(len(batch),) + box.shape} for {box}"
            ) from None
        outside = ~np.isfinite(actions) | (actions < box.low - 1e-6) | (actions > box.high + 1e-6)
        if np.any(outside):
            raise ValueError(
                f"expert returned action values {actions[outside].tolist()} outside {box}; valid range "
                f"[{box.low.min()}, {box.high.max()}] and finite"
            )
        return actions

    def _to_space(self, actions: np.ndarray) -> np.ndarray:
        if self.discrete:
            return np.asarray(actions, dtype=np.int64) + int(self.action_space.start)  # type: ignore[attr-defined]
        return actions


__all__ = ["NoisyOracle", "oracle_seed"]
