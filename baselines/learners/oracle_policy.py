"""The noisy oracle as an SB3 policy (for imitation's rollouts and DAgger), and label budgets."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.policies import BasePolicy

from noisy_expert_envs.oracle import BudgetExceeded, NoisyOracle


class OraclePolicy(BasePolicy):
    """The noisy oracle as an SB3 policy, so imitation's rollout helpers and DAgger can use it.

    Every ``predict`` call samples the *noisy* expert, whatever ``deterministic`` says: imitation's
    DAgger always asks its expert for deterministic actions, and honouring that flag would silently
    turn the noisy expert into the clean one. With ``budget`` set, a query beyond it raises
    :class:`~noisy_expert_envs.oracle.BudgetExceeded`, so no algorithm can overspend without noticing.
    """

    def __init__(self, oracle: NoisyOracle, budget: int | None = None) -> None:
        super().__init__(oracle.observation_space, oracle.action_space)
        self.oracle = oracle
        self.budget = budget

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Noisy labels for a batch (or one) observation; ``deterministic`` is ignored on purpose."""
        obs = np.asarray(observation)
        n = 1 if obs.shape == tuple(self.oracle.observation_space.shape or ()) else len(obs)
        if self.budget is not None and self.oracle.queries + n > self.budget:
            raise BudgetExceeded(self.budget, self.oracle.queries, n)
        return self._label(obs), state

    def _label(self, obs: np.ndarray) -> np.ndarray:
        return self.oracle.sample(obs)

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return th.as_tensor(self._label(observation.cpu().numpy()))


class DistributionRecorder(OraclePolicy):
    """:class:`OraclePolicy` that also records, for one query per state, the noisy expert's action
    probabilities at every state it labels (``sample_with_distribution``): the targets of offline
    distillation on the teacher's own trajectories. Discrete actions only."""

    def __init__(self, oracle: NoisyOracle, budget: int | None = None) -> None:
        super().__init__(oracle, budget)
        self.states: list[np.ndarray] = []
        self.probs: list[np.ndarray] = []

    def _label(self, obs: np.ndarray) -> np.ndarray:
        batch = obs.reshape(-1, *(self.oracle.observation_space.shape or ()))
        labels, probs = self.oracle.sample_with_distribution(batch)
        self.states.append(batch)
        self.probs.append(np.asarray(probs, dtype=np.float32))
        return labels.reshape(len(batch)) if obs.shape == batch.shape else labels[0]

    def targets(self, obs: np.ndarray) -> np.ndarray:
        """The recorded probability rows for the states ``obs``, which must be the labelled states in
        labelling order (the flattened trajectories); ``RuntimeError`` if they are not."""
        states = np.concatenate(self.states) if self.states else np.zeros((0, *np.shape(obs)[1:]))
        if states.shape != np.shape(obs) or not np.array_equal(states, obs):
            raise RuntimeError("the demonstrations' states are not the states the teacher labelled, in order")
        return np.concatenate(self.probs)


class LabelBudget(gym.Wrapper):
    """Truncate the episode once ``budget`` steps have been taken in total (over all episodes).

    Offline collection and DAgger query the expert once per step; truncating at the budget lets
    imitation's own rollout helpers stop exactly there instead of finishing the episode on extra,
    uncounted labels.
    """

    def __init__(self, env: gym.Env, budget: int) -> None:
        super().__init__(env)
        self.budget = int(budget)
        self.steps = 0

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps >= self.budget and not terminated:
            truncated = True
        return obs, reward, terminated, truncated, info
