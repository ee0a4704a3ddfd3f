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

#: Uniforms drawn per refill of the single-observation buffer. ``rng.random(256).tolist()`` costs
#: ~15 ns per value, a scalar ``rng.random()`` ~0.3 µs.
_UNIFORM_BLOCK = 256

#: Stands for "the expert's ``act_one`` was not called" (``None`` is a possible, invalid answer).
_NOT_ASKED = object()


def oracle_seed(env_seed: int) -> np.random.SeedSequence:
    """The seed sequence of the oracle for an environment reset with ``env_seed``."""
    return np.random.SeedSequence([int(env_seed), _ORACLE_SEED_SALT])


class NoisyOracle:
    """A clean expert corrupted by a noise model, queryable at any batch of observations.

    Every call of :meth:`probs`, :meth:`distribution` or :meth:`sample` costs one query per
    observation (``queries``); :meth:`clean` is privileged access to the clean expert, counted
    separately (``clean_queries``). A single observation (shape of the observation space) gives an
    unbatched answer. Picklable, so it travels to ``SubprocVecEnv`` workers.

    A single observation takes a fast path (the wrapper asks for one label per step): the expert's
    ``act_one`` when it has one, and the noise model's ``sample_one``, which may draw from a buffer
    of uniforms filled from the RNG 256 at a time. So a single observation and a batch use the
    random stream differently (for ``uniform`` noise a single label comes from one buffered uniform,
    a batch from ``rng.random`` and ``rng.integers``): the same seed and the same sequence of calls
    give the same labels, and both follow the declared distribution, but the labels of N single
    calls are not those of one batch of N. The buffer is part of the RNG state: ``reset_rng``
    empties it and it pickles with the oracle.

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
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.expert = expert
        self.noise = make_noise(noise, action_space, **noise_params).bind(action_space, noise_seed)
        self.rng = np.random.default_rng(seed)
        self.queries = 0
        self.clean_queries = 0
        self._obs_shape = tuple(observation_space.shape or ())
        # Python-int bounds of a Discrete space, for the single-observation fast path.
        self._start = int(action_space.start) if self.discrete else 0  # type: ignore[attr-defined]
        self._stop = self._start + int(action_space.n) if self.discrete else 0  # type: ignore[attr-defined]
        # Every label as an np.int64 (the type a batch's element has), indexed by action index:
        # ~10x cheaper than building ``np.int64(index + start)`` for each single label. A tuple
        # indexes 4x faster than the array; huge action spaces keep the array (8 bytes per action).
        labels = np.arange(self._start, self._stop, dtype=np.int64)
        self._label_values: tuple[np.int64, ...] | np.ndarray = (
            tuple(labels) if len(labels) <= 4096 else labels
        )
        # The observation shape that takes the single-observation path (None for Box actions).
        self._single_shape = self._obs_shape if self.discrete else None

    # -- public API -------------------------------------------------------------------------------

    @property
    def expert(self) -> Any:
        """The clean expert, as a batched callable (assigning one adapts it with ``as_expert``)."""
        return self._expert

    @expert.setter
    def expert(self, expert: Any) -> None:
        self._expert = as_expert(expert)
        # The expert's optional single-observation method, looked up here rather than per label
        # (the lookup is ~6% of a single label's cost); None for Box tasks.
        self._act_one = getattr(self._expert, "act_one", None) if self.discrete else None

    @property
    def rng(self) -> np.random.Generator:
        """The sampling RNG; assigning one also empties the buffer of uniforms drawn from the old."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._uniforms: list[float] = []  # buffered draws of ``_rng`` for single observations

    @property
    def action_bounds(self) -> tuple[int, int]:
        """``(start, stop)`` of a Discrete action space as Python ints (valid actions ``start <= a <
        stop``); ``(0, 0)`` for Box actions."""
        return self._start, self._stop

    def reset_rng(self, seed: int | np.random.SeedSequence | None) -> None:
        """Re-seed the sampling RNG, buffer included (the wrapper does this from the episode seed)."""
        self.rng = np.random.default_rng(seed)

    def reset_episode(self) -> None:
        """Clear per-episode noise memory (``sticky``)."""
        self.noise.reset()

    def clean(self, obs: np.ndarray) -> np.ndarray:
        """The clean expert's actions (privileged; counted in ``clean_queries``, not ``queries``)."""
        batch, single = self._batch(obs)
        if single and self.discrete:
            action = self._label_values[self._clean_one(batch[0])]
            self.clean_queries += 1
            return action
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
        """One noisy label per observation, drawn with the oracle's own RNG (a single observation
        draws from it differently than a batch does; see the class docstring)."""
        if not (type(obs) is np.ndarray and obs.shape == self._single_shape):
            batch, single = self._batch(obs)
            if not (single and self.discrete):
                clean = self._clean_actions(batch)
                return self._sample_batch(batch, clean, self._preferences(batch), single)
            obs = batch[0]
        # One observation of a Discrete task: the wrapper's label at every step. Why this path: a
        # plain CartPole step is ~3.5 µs of Python and every numpy call on a one-row array costs
        # 0.3-1 µs, so the batch path (expert, checks, noise draws, index shift, all on arrays) made
        # a labelled step ~3.8x a plain one. Here the clean action is a Python int (the expert's
        # ``act_one``, checked inline, else ``_clean_one``), the noise model's ``sample_one`` may
        # draw from the uniform buffer (``_draw``), and the label is a precomputed np.int64, the
        # type a batch element has.
        act_one = self._act_one
        answer = act_one(obs) if act_one is not None else _NOT_ASKED
        if type(answer) is int and self._start <= answer < self._stop:
            clean = answer - self._start  # the usual case, checked inline (saves a call)
        else:
            clean = self._clean_one(obs, answer)
        noise = self.noise
        prefs = self._preferences(obs[None]) if noise.needs_preferences else None
        action = noise.sample_one(obs, clean, self._draw, self._rng, prefs)
        self.queries += 1
        return self._label_values[action]

    def sample_with_distribution(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray | BoxDistribution]:
        """One noisy label per observation and the distribution it was drawn from, for one query each.

        Discrete: ``(labels, probs)``; Box: ``(labels, distribution)``. The distribution is computed
        before the draw, so for a stateful model (``sticky``) it is the one the label comes from.
        Labels come from the batch draw (see the class docstring), also for a single observation.
        """
        batch, single = self._batch(obs)
        clean = self._clean_actions(batch)
        prefs = self._preferences(batch)
        if self.discrete:
            dist: np.ndarray | BoxDistribution = self._unbatch(self.noise.probs(batch, clean, prefs), single)  # type: ignore[attr-defined]
        else:
            dist = self.noise.distribution(batch, clean)  # type: ignore[attr-defined]
        return self._sample_batch(batch, clean, prefs, single), dist

    def agreement(self, obs: np.ndarray) -> np.ndarray:
        """Per observation, the probability that the noisy expert emits the clean action (Discrete)."""
        if not self.discrete:
            raise TypeError("agreement() needs a Discrete action space; use distribution() for Box actions")
        batch, _ = self._batch(obs)
        clean = self._clean_actions(batch)  # once: the expert may be costly (MountainCar simulates)
        self.queries += len(batch)
        return self.noise.agreement(batch, clean, self._preferences(batch))  # type: ignore[attr-defined]

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

    def _sample_batch(self, batch: np.ndarray, clean: np.ndarray, prefs: np.ndarray | None, single: bool) -> np.ndarray:
        """Labels for a batch from the RNG itself (the batch stream), counted as queries."""
        actions = self.noise.sample(batch, clean, self.rng, prefs)
        self.queries += len(batch)
        return self._unbatch(self._to_space(actions), single)

    def _draw(self) -> float:
        """The next uniform in [0, 1) of the buffered stream (refilled ``_UNIFORM_BLOCK`` at a time)."""
        if not self._uniforms:
            # Reversed so that ``pop()`` (the cheap end of a list) returns the values in draw order.
            self._uniforms = self._rng.random(_UNIFORM_BLOCK).tolist()[::-1]
        return self._uniforms.pop()

    def _clean_one(self, obs: np.ndarray, answer: Any = _NOT_ASKED) -> int:
        """The clean action index (from 0) of one unbatched observation, as a Python int.

        Uses the expert's ``act_one`` when it has one (``answer``: what it returned, if the caller
        already asked); anything else than an in-range int goes through the batch checks, so an
        invalid action raises the same ``ValueError`` as from the batch path. Experts without
        ``act_one`` run on a one-row batch.
        """
        act_one = self._act_one
        if act_one is None:
            return int(self._clean_actions(obs[None])[0])
        if answer is _NOT_ASKED:
            answer = act_one(obs)
        if type(answer) is int and self._start <= answer < self._stop:
            return answer - self._start
        return int(self._check_discrete(np.asarray([answer]), 1)[0])

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
        if self.discrete:
            return self._check_discrete(raw, len(batch))
        box: spaces.Box = self.action_space  # type: ignore[assignment]
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

    def _check_discrete(self, raw: np.ndarray, n_obs: int) -> np.ndarray:
        """Check an expert's output for ``n_obs`` observations; return action indices from 0."""
        space: spaces.Discrete = self.action_space  # type: ignore[assignment]
        integral = np.issubdtype(raw.dtype, np.integer) or (
            np.issubdtype(raw.dtype, np.floating) and np.all(np.isfinite(raw)) and np.all(raw % 1 == 0)
        )
        if raw.shape not in ((n_obs,), (n_obs, 1)) or not integral:
            raise ValueError(
                f"expert returned {raw!r} (shape {raw.shape}) for {n_obs} observation(s); "
                f"expected {n_obs} integer actions of {space}"
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

    def _to_space(self, actions: np.ndarray) -> np.ndarray:
        if self.discrete:
            return np.asarray(actions, dtype=np.int64) + int(self.action_space.start)  # type: ignore[attr-defined]
        return actions


__all__ = ["NoisyOracle", "oracle_seed"]
