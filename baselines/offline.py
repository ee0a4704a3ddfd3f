"""Offline imitation: imitation's ``bc.BC`` on expert trajectories holding exactly ``budget`` labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from imitation.data import rollout, types
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.adapters import LabelBudget, OraclePolicy, labelling_oracle, make_bc_trainer, make_env, quiet_logger
from baselines.batches import ShuffledBatches


def collect_demonstrations(
    env_id: str, env_kwargs: dict[str, Any], budget: int, seed: int, *, clean: bool = False
) -> tuple[list[types.TrajectoryWithRew], int]:
    """Roll out the noisy (or, with ``clean``, the clean) expert for exactly ``budget`` steps.

    Each step's action is the expert's label for that state, so the trajectories hold ``budget``
    labelled transitions; the last one is truncated at the budget. Returns the trajectories and the
    number of oracle queries spent (always ``budget``).
    """
    env = LabelBudget(make_env(env_id, env_kwargs), budget)
    oracle = labelling_oracle(env, seed, clean=clean)
    venv = DummyVecEnv([lambda: env])
    venv.seed(seed)
    trajectories = rollout.generate_trajectories(
        OraclePolicy(oracle, budget),
        venv,
        rollout.make_sample_until(min_timesteps=budget),
        rng=np.random.default_rng(seed),
        deterministic_policy=True,
    )
    venv.close()
    return trajectories, oracle.queries


def train_bc(
    policy: ActorCriticPolicy,
    demonstrations: list[types.TrajectoryWithRew],
    *,
    seed: int,
    epochs: int = 10,
    min_updates: int = 500,
    batch_size: int = 32,
    lr: float = 1e-3,
    ent_weight: float = 1e-3,
) -> int:
    """Fit ``policy`` to the demonstrations with imitation's BC; returns the gradient steps taken.

    Trains for ``max(min_updates, epochs * n_transitions / batch_size)`` batches.
    """
    n = sum(len(t) for t in demonstrations)
    batch_size = min(batch_size, n)
    updates = max(min_updates, epochs * n // batch_size)
    with quiet_logger() as logger:
        rng = np.random.default_rng(seed)
        trainer = make_bc_trainer(policy, rng, logger, batch_size=batch_size, lr=lr, ent_weight=ent_weight)
        transitions = rollout.flatten_trajectories(demonstrations)
        trainer.set_demonstrations(ShuffledBatches(transitions.obs, transitions.acts, batch_size, rng))
        trainer.train(n_batches=updates, progress_bar=False, log_interval=updates + 1)
    return updates
