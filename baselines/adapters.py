"""Adapters between the noisy oracle and imitation/SB3: the oracle as an SB3 policy, budgeted envs,
quiet loggers and seeding."""

from __future__ import annotations

import contextlib
import copy
import random
import tempfile
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import torch as th
from imitation.algorithms import bc
from imitation.util import logger as imit_logger
from stable_baselines3.common.policies import BasePolicy

from baselines.losses import DistillationLossCalculator
from noisy_expert_envs.oracle import NoisyOracle, oracle_seed


class OraclePolicy(BasePolicy):
    """The noisy oracle as an SB3 policy, so imitation's rollout helpers and DAgger can use it.

    Every ``predict`` call samples the *noisy* expert, whatever ``deterministic`` says: imitation's
    DAgger always asks its expert for deterministic actions, and honouring that flag would silently
    turn the noisy expert into the clean one. With ``budget`` set, a query beyond it raises, so no
    algorithm can overspend without noticing.
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
            raise RuntimeError(
                f"label budget exceeded: {self.oracle.queries} used + {n} requested > budget {self.budget}"
            )
        return self.oracle.sample(obs), state

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return th.as_tensor(self.oracle.sample(observation.cpu().numpy()))


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


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, **overrides: Any) -> gym.Env:
    """``gym.make`` a task with labels in ``info`` switched off (learners query the oracle directly)."""
    kwargs = {**(env_kwargs or {}), "labels": False, **overrides}
    return gym.make(env_id, **kwargs)


def labelling_oracle(env: gym.Env, seed: int, *, clean: bool = False) -> NoisyOracle:
    """A private copy of the env's oracle, seeded from ``seed``, with fresh counters.

    A copy, because the env's own oracle is re-seeded at every ``reset(seed=...)``. With ``clean``
    the copy's noise is replaced by ``none`` (the ``bc_clean`` reference).
    """
    oracle: NoisyOracle = copy.deepcopy(env.get_wrapper_attr("oracle"))
    if clean:
        from noisy_expert_envs.noise import NoNoise

        oracle.noise = NoNoise().bind(oracle.action_space)
    oracle.reset_rng(oracle_seed(seed + 1_000_003))
    oracle.queries = 0
    oracle.clean_queries = 0
    return oracle


def make_bc_trainer(
    policy: BasePolicy,
    rng: np.random.Generator,
    logger: imit_logger.HierarchicalLogger,
    *,
    batch_size: int,
    lr: float,
    ent_weight: float,
    loss: str = "sampled",
    beta: float = 0.5,
) -> bc.BC:
    """imitation's BC trainer for ``policy`` (the gradient steps every algorithm here uses).

    Its loss is our :class:`DistillationLossCalculator` (imitation's BC loss for one-action labels,
    at less cost) and its optimizer Adam with the fused kernel, which on these small networks takes
    a fraction of the time of the default per-parameter loop.
    """
    trainer = bc.BC(
        observation_space=policy.observation_space,
        action_space=policy.action_space,
        rng=rng,
        policy=policy,  # type: ignore[arg-type]
        batch_size=batch_size,
        optimizer_kwargs={"lr": lr, "fused": True},
        ent_weight=ent_weight,
        custom_logger=logger,
    )
    trainer.loss_calculator = DistillationLossCalculator(loss, beta, ent_weight)
    return trainer


def seed_everything(seed: int) -> None:
    """Seed torch (network init, data-loader shuffling) and Python's RNG; imitation's ``rng``
    covers neither."""
    th.manual_seed(seed)
    random.seed(seed)


@contextlib.contextmanager
def quiet_logger() -> Iterator[imit_logger.HierarchicalLogger]:
    """An imitation logger that prints nothing and leaves no folder behind."""
    with tempfile.TemporaryDirectory(prefix="noisy-expert-log-") as folder:
        yield imit_logger.configure(folder=folder, format_strs=[])


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (small networks are fastest single-threaded), then restore."""
    before = th.get_num_threads()
    th.set_num_threads(n)
    try:
        yield
    finally:
        th.set_num_threads(before)
