"""``NoisyExpertWrapper``: puts the noisy expert's label for the current observation in ``info``."""

from __future__ import annotations

import copy
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from noisy_expert_envs.noise.base import NoiseModel
from noisy_expert_envs.oracle import NoisyOracle, oracle_seed


#: Action types ``step`` accepts with a bounds check alone.
_INT_TYPES = frozenset((int, np.int64))


class NoisyExpertWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Attach a noisy oracle to any env whose observation determines the expert's action.

    After ``reset`` and every ``step``, ``info["expert_action"]`` holds one noisy label for the
    returned observation (one oracle query). With ``include_distribution`` it also holds
    ``info["expert_probs"]`` (Discrete) or ``info["expert_distribution"]`` (Box parameters); with
    ``include_clean`` the privileged ``info["clean_action"]``. ``labels=False`` turns labelling off
    for speed (the oracle stays reachable). ``reset(seed=s)`` re-seeds the oracle from ``s``, so the
    same seed gives the same labels; the wrapper also checks every action against the action space.
    The keys are added to the task's ``info`` dict in place, as Gymnasium's own wrappers do.

    The oracle is reachable as ``env.get_wrapper_attr("oracle")``.

    Args:
        env: the task.
        expert: callable ``obs_batch -> actions``, an SB3 model, or anything with ``predict``.
        noise: a noise model or its name; flat ``**noise_params`` go with a name. ``None`` (the
            default) is the default noise, as in ``gym.make``: ``uniform`` with epsilon 0.2 for
            Discrete actions, ``gaussian`` with sigma 0.2 for Box; ``"none"`` is the clean expert.
        labels: put ``expert_action`` in ``info``.
        include_distribution: also put the label distribution in ``info``.
        include_clean: also put the clean action in ``info`` (privileged, not a query).
        noise_seed: seed of the noise model's hidden structure (e.g. the ``fixed_wrong`` map).
    """

    def __init__(
        self,
        env: gym.Env,
        expert: Any,
        noise: NoiseModel | str | None = None,
        *,
        labels: bool = True,
        include_distribution: bool = False,
        include_clean: bool = False,
        noise_seed: int = 0,
        **noise_params: Any,
    ) -> None:
        # Recorded so that ``env.spec`` can re-create a user-wrapped env (``check_env`` does); a noise
        # object is recorded as an unbound copy, so a re-created env never shares its memory.
        gym.utils.RecordConstructorArgs.__init__(
            self, expert=expert, noise=copy.deepcopy(noise), labels=labels,
            include_distribution=include_distribution, include_clean=include_clean, noise_seed=noise_seed,
            **noise_params,
        )
        gym.Wrapper.__init__(self, env)
        #: True when a registered ``NoisyExpert/*`` id built this wrapper (its entry point does).
        self.built_by_registered_id = False
        for flag_name, flag in (("labels", labels), ("include_distribution", include_distribution),
                                ("include_clean", include_clean)):
            if not isinstance(flag, bool):
                raise TypeError(f"{flag_name} must be True or False, got {flag!r}")
        self.oracle = NoisyOracle(
            expert, noise, env.action_space, env.observation_space, noise_seed=noise_seed, **noise_params
        )
        self.labels = labels
        self.include_distribution = include_distribution
        self.include_clean = include_clean
        # Python-int bounds of a Discrete action space for step's fast check (empty for Box).
        self._action_start, self._action_stop = self.oracle.action_bounds

    @property
    def spec(self) -> EnvSpec | None:
        """The env's spec; it lists this wrapper unless a registered ``NoisyExpert/*`` id built it
        (that id's entry point re-creates the wrapper, so listing it would wrap twice)."""
        if self.built_by_registered_id:
            return self.env.spec
        return super().spec

    @spec.setter
    def spec(self, spec: EnvSpec | None) -> None:
        # Gymnasium 0.29's ``make_vec`` assigns ``env.spec`` on what the entry point returned (1.x
        # goes through ``gym.make``, which sets ``env.unwrapped.spec``): store it where ``gym.make``
        # does, on the task, which the getter reads back.
        self.env.unwrapped.spec = spec

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the task; re-seed the oracle when ``seed`` is given; label the first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.oracle.reset_rng(oracle_seed(seed))
        self.oracle.reset_episode()
        if self.labels:
            self._label(obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the task with a checked action and label the next observation."""
        if not (type(action) in _INT_TYPES and self._action_start <= action < self._action_stop):
            # The usual action, an in-range int of a Discrete space, passes with two comparisons
            # (``space.contains`` costs several times more); everything else is checked in full.
            self._check_action(action)
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.labels:
            if self.include_distribution or self.include_clean:
                self._label(obs, info)
            else:  # the usual case, inlined: it runs at every step
                info["expert_action"] = self.oracle.sample(obs)
        return obs, reward, terminated, truncated, info

    def _label(self, obs: Any, info: dict[str, Any]) -> None:
        """Add the label (and distribution, clean action) for ``obs`` to ``info``, in place."""
        if self.include_distribution:
            # One query for the label and the distribution it is drawn from (sticky-safe).
            label, dist = self.oracle.sample_with_distribution(obs)
            if self.oracle.discrete:
                info["expert_probs"] = dist
            else:
                info["expert_distribution"] = {k: v[0] for k, v in dist.params().items()}  # type: ignore[union-attr]
            info["expert_action"] = label
        else:
            info["expert_action"] = self.oracle.sample(obs)
        if self.include_clean:
            info["clean_action"] = self.oracle.clean(obs)

    def _check_action(self, action: Any) -> None:
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            if not space.contains(action):
                raise ValueError(
                    f"action {action!r} is not in {space}: expected an integer scalar in "
                    f"{int(space.start)}..{int(space.start + space.n - 1)}"
                )
        elif isinstance(space, spaces.Box) and np.shape(action) != space.shape:
            raise ValueError(f"action {action!r} has shape {np.shape(action)}; {space} needs shape {space.shape}")
