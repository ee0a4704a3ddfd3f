"""Evaluation on seeded episodes, and the clean-expert / random reference returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from baselines.adapters import make_env

ActFn = Callable[[np.ndarray], np.ndarray]
EVAL_SEED_BASE = 1_000_000


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """Evaluation episode seeds of a run: disjoint from training seeds, shared by all algorithms."""
    return [EVAL_SEED_BASE + 1000 * seed + i for i in range(episodes)]


@dataclass(frozen=True)
class Evaluation:
    """Returns per episode and, if the task reports ``info['is_success']``, the success rate."""

    returns: np.ndarray
    success_rate: float | None

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))


def run_episodes(env_id: str, env_kwargs: dict[str, Any], seeds: list[int], act: ActFn | None) -> Evaluation:
    """Run one episode per seed, all envs stepped together so ``act`` sees one batch per step.

    ``act=None`` plays uniformly random actions (seeded by the episode seed).
    """
    envs: list[gym.Env] = [make_env(env_id, env_kwargs) for _ in seeds]
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


def reference_returns(env_id: str, env_kwargs: dict[str, Any], seeds: list[int]) -> tuple[float, float]:
    """Mean return of the clean expert and of a uniformly random policy on ``seeds`` (cached)."""
    key = (env_id, json.dumps(env_kwargs, sort_keys=True, default=repr), tuple(seeds))
    if key not in _REFERENCE_CACHE:
        oracle = make_env(env_id, env_kwargs).get_wrapper_attr("oracle")
        expert = run_episodes(env_id, env_kwargs, seeds, oracle.clean).mean_return
        random = run_episodes(env_id, env_kwargs, seeds, None).mean_return
        _REFERENCE_CACHE[key] = (expert, random)
    return _REFERENCE_CACHE[key]


def normalized_return(mean_return: float, expert_return: float, random_return: float) -> float:
    """``(J - J_random) / (J_expert - J_random)``; NaN when the two references coincide."""
    span = expert_return - random_return
    return float((mean_return - random_return) / span) if span != 0 else float("nan")
