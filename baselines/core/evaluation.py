"""Evaluation on seeded episodes, and the clean-expert / random reference returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from baselines.core.task import Task

ActFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Evaluation:
    """Returns per episode and, if the task reports ``info['is_success']``, the success rate."""

    returns: np.ndarray
    success_rate: float | None

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))


@dataclass(frozen=True)
class Score:
    """A learned policy's evaluation with the clean-expert and random references on the same seeds."""

    success_rate: float | None
    normalized_return: float
    mean_return: float
    expert_return: float
    random_return: float

    def metric(self) -> float:
        """What targets are measured on: the success rate where the task has one, else the
        normalized return."""
        return self.success_rate if self.success_rate is not None else self.normalized_return


def run_episodes(task: Task, seeds: list[int], act: ActFn | None) -> Evaluation:
    """Run one episode per seed, all envs stepped together so ``act`` sees one batch per step.

    ``act=None`` plays uniformly random actions (seeded by the episode seed).
    """
    envs: list[gym.Env] = [task.make_env() for _ in seeds]
    obs = []
    for env, seed in zip(envs, seeds):
        env.action_space.seed(seed)
        obs.append(env.reset(seed=seed)[0])
    returns = np.zeros(len(envs))
    successes: list[bool | None] = [None] * len(envs)
    active = list(range(len(envs)))
    current = np.asarray(obs)
    while active:
        actions = [envs[i].action_space.sample() for i in active] if act is None else act(current[active])
        still_active = []
        for i, action in zip(list(active), actions):
            ob, reward, terminated, truncated, info = envs[i].step(action)
            returns[i] += float(reward)
            current[i] = ob
            if "is_success" in info:
                successes[i] = bool(info["is_success"])
            if not (terminated or truncated):
                still_active.append(i)
        active = still_active
    for env in envs:
        env.close()
    known = [s for s in successes if s is not None]
    return Evaluation(returns, float(np.mean(known)) if len(known) == len(seeds) else None)


def policy_act(policy: Any, deterministic: bool) -> ActFn:
    """An ``act`` function from an SB3 policy (greedy with ``deterministic=True``)."""
    return lambda obs: policy.predict(obs, deterministic=deterministic)[0]


_REFERENCE_CACHE: dict[tuple[str, str, tuple[int, ...]], tuple[float, float]] = {}


def reference_returns(task: Task, seeds: list[int]) -> tuple[float, float]:
    """Mean return of the clean expert and of a uniformly random policy on ``seeds`` (cached)."""
    key = (task.env_id, json.dumps(task.env_kwargs, sort_keys=True, default=repr), tuple(seeds))
    if key not in _REFERENCE_CACHE:
        oracle = task.make_env().get_wrapper_attr("oracle")
        expert = run_episodes(task, seeds, oracle.clean).mean_return
        random = run_episodes(task, seeds, None).mean_return
        _REFERENCE_CACHE[key] = (expert, random)
    return _REFERENCE_CACHE[key]


def score(task: Task, policy: Any, seeds: list[int], deterministic: bool) -> Score:
    """Evaluate ``policy`` on one episode per seed and normalize by the references."""
    evaluation = run_episodes(task, seeds, policy_act(policy, deterministic))
    expert_return, random_return = reference_returns(task, seeds)
    return Score(evaluation.success_rate, normalized_return(evaluation.mean_return, expert_return, random_return),
                 evaluation.mean_return, expert_return, random_return)


def normalized_return(mean_return: float, expert_return: float, random_return: float) -> float:
    """``(J - J_random) / (J_expert - J_random)``; NaN when the two references coincide."""
    span = expert_return - random_return
    return float((mean_return - random_return) / span) if span != 0 else float("nan")
