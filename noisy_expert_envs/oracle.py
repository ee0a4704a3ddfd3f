"""The noisy oracle: clean expert + noise model + its own seeded RNG + query counters."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from noisy_expert_envs._observations import ObservationCheck
from noisy_expert_envs._single_label import SingleLabeler
from noisy_expert_envs.experts.base import Expert, as_expert
from noisy_expert_envs.noise.base import NoiseModel
from noisy_expert_envs.noise.distributions import BoxDistribution
from noisy_expert_envs.noise.factory import make_noise

#: Mixed into episode seeds so the oracle's random stream differs from the environment's own.
_ORACLE_SEED_SALT = 0x4E4F495359  # "NOISY"


def oracle_seed(env_seed: int) -> np.random.SeedSequence:
    """The seed sequence of the oracle for an environment reset with ``env_seed``."""
    return np.random.SeedSequence([int(env_seed), _ORACLE_SEED_SALT])


class BudgetExceeded(RuntimeError):
    """A query past a :class:`LabelMeter`'s budget: ``counted`` labels answered so far, ``asked`` more."""

    def __init__(self, budget: int, counted: int, asked: int) -> None:
        super().__init__(budget, counted, asked)  # the args pickle (errors travel back from sweep workers)
        self.budget, self.counted, self.asked = budget, counted, asked

    def __str__(self) -> str:
        return (f"label budget exceeded: {self.counted} labels counted + {self.asked} asked > "
                f"budget {self.budget}")


class LabelMeter:
    """The labels answered by every oracle attached to it (:meth:`NoisyOracle.attach`): ``labels`` in
    all, ``clean_labels`` of them from the clean expert, at most ``budget``.

    A query that would pass the budget raises :class:`BudgetExceeded` before it is counted or
    answered, and stays in ``exceeded`` (so a caller that catches it can still be failed). Once
    closed (:meth:`close`) the meter counts nothing (queries after training are not its cost).
    """

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget
        self.labels = 0
        self.clean_labels = 0
        self.exceeded: BudgetExceeded | None = None
        self.closed = False

    def charge(self, n: int, clean: bool) -> None:
        """Count ``n`` labels (``clean``: the clean expert's); ``BudgetExceeded`` past the budget."""
        if self.closed:
            return
        if self.budget is not None and self.labels + n > self.budget:
            self.exceeded = BudgetExceeded(self.budget, self.labels, n)
            raise self.exceeded
        self.labels += n
        if clean:
            self.clean_labels += n

    def close(self) -> None:
        """Stop counting (the run's training is over)."""
        self.closed = True


class NoisyOracle:
    """A clean expert corrupted by a noise model, queryable at any batch of observations.

    Every call of :meth:`probs`, :meth:`distribution` or :meth:`sample` costs one query per
    observation (``queries``); :meth:`clean` is privileged access to the clean expert, counted
    separately (``clean_queries``). An oracle attached to a :class:`LabelMeter` (:meth:`attach`)
    also counts every answer there, and refuses one past the meter's budget. A single observation
    (shape of the observation space) gives an unbatched answer; an empty batch gives an empty
    answer. Picklable, so it travels to ``SubprocVecEnv`` workers (a copy there counts into a copy
    of its meter).

    Observations must lie in the observation space (finite, within bounds; integral for discrete
    spaces): otherwise ``ValueError`` names the first bad row. Supported observation spaces: Box,
    Discrete, MultiDiscrete, MultiBinary (``TypeError`` at construction for others).

    A single observation of a Discrete task (the wrapper's label at every step) is answered by
    :class:`~noisy_expert_envs._single_label.SingleLabeler`, which may use the expert's ``act_one``
    and, for ``uniform`` noise, draws from a buffer of uniforms filled from the RNG 256 at a time:
    the same seed and the same sequence of calls give the same labels, and both follow the declared
    distribution, but the labels of N single calls are not those of one batch of N.

    Args:
        expert: callable ``obs_batch -> actions``, an SB3 model, or anything with ``predict``.
        noise: a :class:`NoiseModel` or its name (see ``make_noise``); ``None`` is the default noise
            (``uniform`` epsilon 0.2 for Discrete actions, ``gaussian`` sigma 0.2 for Box),
            ``"none"`` the clean expert.
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
        self._observation_check = ObservationCheck(observation_space)  # TypeError for Dict, Tuple, ...
        self._one: SingleLabeler | None = None
        self.action_space = action_space
        self.observation_space = observation_space
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.expert = expert
        self.noise = make_noise(noise, action_space, **noise_params).bind(action_space, noise_seed)
        self.rng = np.random.default_rng(seed)
        self.queries = 0
        self.clean_queries = 0
        self._meter: LabelMeter | None = None
        self._meter_clean = False
        self._obs_shape = tuple(observation_space.shape or ())
        self._one = SingleLabeler(self) if self.discrete else None
        # The shape of an array that ``_one`` answers directly (None: no such path for Box actions).
        self._single_shape = self._obs_shape if self.discrete else None

    # -- public API -------------------------------------------------------------------------------

    @property
    def expert(self) -> Expert:
        """The clean expert, as a batched callable (assigning one adapts it with ``as_expert``)."""
        return self._expert

    @expert.setter
    def expert(self, expert: Any) -> None:
        self._expert = as_expert(expert)
        if self._one is not None:
            self._one.sync()

    @property
    def noise(self) -> NoiseModel:
        """The bound noise model."""
        return self._noise

    @noise.setter
    def noise(self, noise: NoiseModel) -> None:
        self._noise = noise
        if self._one is not None:
            self._one.sync()

    @property
    def rng(self) -> np.random.Generator:
        """The sampling RNG (``reset_rng`` re-seeds it); assigning one starts a fresh stream."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng
        if self._one is not None:
            self._one.sync()

    @property
    def action_bounds(self) -> tuple[int, int]:
        """``(start, stop)`` of a Discrete action space as Python ints (valid actions ``start <= a <
        stop``); ``(0, 0)`` for Box actions."""
        if self._one is None:
            return 0, 0
        return self._one.start, self._one.stop

    def reset_rng(self, seed: int | np.random.SeedSequence | None) -> None:
        """Re-seed the sampling RNG (the wrapper does this from the episode seed)."""
        self.rng = np.random.default_rng(seed)

    def attach(self, meter: LabelMeter | None, *, clean: bool = False) -> None:
        """Count every answer into ``meter`` too (``None``: detach); with ``clean`` every answer is a
        clean-expert label (an oracle whose noise is ``none`` standing for the clean expert)."""
        self._meter, self._meter_clean = meter, clean

    def reset_episode(self) -> None:
        """Clear per-episode noise memory (``sticky``)."""
        self.noise.reset()

    def clean(self, obs: np.ndarray) -> np.ndarray:
        """The clean expert's actions (privileged; counted in ``clean_queries``, not ``queries``)."""
        if type(obs) is np.ndarray and obs.shape == self._single_shape:
            return self._one.label(obs, noisy=False)  # type: ignore[union-attr]
        batch, single = self._batch(obs)
        if single and self._one is not None:
            return self._one.label(batch[0], noisy=False)
        actions = self._clean_actions(batch)
        self._count(len(batch), clean=True)
        return self._unbatch(self._to_space(actions), single)

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """The noisy expert's action probabilities, shape ``(B, n_actions)`` (Discrete only)."""
        if not self.discrete:
            raise TypeError("probs() needs a Discrete action space; use distribution() for Box actions")
        batch, single = self._batch(obs)
        p = self._probs(batch, self._clean_actions(batch), self._preferences(batch))
        self._count(len(batch))
        return self._unbatch(p, single)

    def distribution(self, obs: np.ndarray) -> BoxDistribution:
        """The noisy expert's action distribution for a batch (Box only): sample it or score it."""
        if self.discrete:
            raise TypeError("distribution() needs a Box action space; use probs() for Discrete actions")
        batch, _ = self._batch(obs)
        dist = self.noise.distribution(batch, self._clean_actions(batch))  # type: ignore[attr-defined]
        self._count(len(batch))
        return dist

    def sample(self, obs: np.ndarray) -> np.ndarray:
        """One noisy label per observation, drawn with the oracle's own RNG (a single observation
        may draw from it differently than a batch does; see the class docstring)."""
        if type(obs) is np.ndarray and obs.shape == self._single_shape:
            return self._one.label(obs)  # type: ignore[union-attr]
        batch, single = self._batch(obs)
        if single and self._one is not None:
            return self._one.label(batch[0])
        clean = self._clean_actions(batch)
        return self._sample_batch(batch, clean, self._preferences(batch), single)

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
            dist: np.ndarray | BoxDistribution = self._unbatch(self._probs(batch, clean, prefs), single)
        else:
            dist = self.noise.distribution(batch, clean)  # type: ignore[attr-defined]
        return self._sample_batch(batch, clean, prefs, single), dist

    def agreement(self, obs: np.ndarray) -> np.ndarray:
        """Per observation, the probability that the noisy expert emits the clean action (Discrete)."""
        if not self.discrete:
            raise TypeError("agreement() needs a Discrete action space; use distribution() for Box actions")
        batch, _ = self._batch(obs)
        clean = self._clean_actions(batch)  # once: the expert may be costly (MountainCar simulates)
        self._count(len(batch))
        if not len(batch):
            return np.zeros(0)
        return self.noise.agreement(batch, clean, self._preferences(batch))  # type: ignore[attr-defined]

    def mode_margin(self, obs: np.ndarray) -> np.ndarray | None:
        """Per observation, ``p(clean) - max other p`` (Discrete); ``None`` for Box actions."""
        if not self.discrete:
            return None
        batch, _ = self._batch(obs)
        clean = self._clean_actions(batch)
        self._count(len(batch))
        if not len(batch):
            return np.zeros(0)
        return self.noise.mode_margin(batch, clean, self._preferences(batch))  # type: ignore[attr-defined]

    def config(self) -> dict[str, Any]:
        """The noise configuration (JSON-friendly)."""
        return {**self.noise.config(), "noise_seed": self.noise.noise_seed}

    def __repr__(self) -> str:
        return f"NoisyOracle(expert={self.expert!r}, noise={self.noise!r}, queries={self.queries})"

    # -- internals --------------------------------------------------------------------------------

    def _count(self, n: int, clean: bool = False) -> None:
        """Count ``n`` answers (``clean``: of the clean expert), first in the attached meter, which
        refuses them past its budget (then nothing is counted here either)."""
        if self._meter is not None:
            self._meter.charge(n, clean or self._meter_clean)
        if clean:
            self.clean_queries += n
        else:
            self.queries += n

    def _batch(self, obs: np.ndarray) -> tuple[np.ndarray, bool]:
        """``obs`` as a checked batch, and whether it was a single observation."""
        obs = np.asarray(obs)
        if obs.shape == self._obs_shape:
            batch, single = obs[None], True
        elif obs.shape[1:] == self._obs_shape:
            batch, single = obs, False
        else:
            raise ValueError(
                f"observations must have shape {self._obs_shape} or (batch, *{self._obs_shape}), "
                f"got {obs.shape}"
            )
        self._observation_check.check(batch, single)
        return batch, single

    def _probs(self, batch: np.ndarray, clean: np.ndarray, prefs: np.ndarray | None) -> np.ndarray:
        if not len(batch):
            return np.zeros((0, int(self.action_space.n)))  # type: ignore[attr-defined]
        return self.noise.probs(batch, clean, prefs)  # type: ignore[attr-defined]

    def _sample_batch(self, batch: np.ndarray, clean: np.ndarray, prefs: np.ndarray | None, single: bool) -> np.ndarray:
        """Labels for a batch from the RNG itself (the batch stream), counted as queries."""
        actions = self.noise.sample(batch, clean, self.rng, prefs) if len(batch) else clean
        self._count(len(batch))
        return self._unbatch(self._to_space(actions), single)

    @staticmethod
    def _unbatch(values: np.ndarray, single: bool) -> np.ndarray:
        return values[0] if single else values

    def _preferences(self, batch: np.ndarray) -> np.ndarray | None:
        if not self.noise.needs_preferences or not len(batch):
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
        if not len(batch):  # nothing to ask the expert
            if self.discrete:
                return np.zeros(0, dtype=np.int64)
            return np.zeros((0,) + self.action_space.shape, dtype=self.action_space.dtype)  # type: ignore[operator]
        raw = np.asarray(self.expert(batch))
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


__all__ = ["BudgetExceeded", "LabelMeter", "NoisyOracle", "oracle_seed"]
