"""DAgger with the noisy oracle as expert, on imitation's ``SimpleDAggerTrainer``."""

from __future__ import annotations

import tempfile
from typing import Any

import datasets
import numpy as np
from imitation.algorithms.dagger import LinearBetaSchedule, SimpleDAggerTrainer
from imitation.data import rollout, types
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.adapters import LabelBudget, OraclePolicy, labelling_oracle, make_bc_trainer, make_env, quiet_logger


def train_dagger(
    policy: ActorCriticPolicy,
    env_id: str,
    env_kwargs: dict[str, Any],
    *,
    budget: int,
    seed: int,
    beta_rampdown: int = 15,
    round_min_timesteps: int = 500,
    round_min_episodes: int = 3,
    bc_epochs: int = 4,
    batch_size: int = 32,
    lr: float = 1e-3,
    ent_weight: float = 1e-3,
) -> dict[str, Any]:
    """Train ``policy`` by DAgger; every expert query counts against ``budget``.

    imitation's DAgger: each round the expert acts with probability beta (linear ramp-down over
    ``beta_rampdown`` rounds), else the learner acts (imitation *samples* its action); the expert
    labels every visited state; BC trains on all labels so far. We drive the rounds ourselves
    instead of calling ``SimpleDAggerTrainer.train`` because that loop finishes whole episodes past
    its timestep target, spending labels beyond the budget; here the env is truncated at the budget.
    Returns accounting: ``labels_used``, ``env_steps``, ``rounds``.
    """
    datasets.disable_progress_bars()
    env = LabelBudget(make_env(env_id, env_kwargs), budget)
    oracle = labelling_oracle(env, seed)
    expert = OraclePolicy(oracle, budget)
    venv = DummyVecEnv([lambda: env])
    venv.seed(seed)
    rng = np.random.default_rng(seed)
    batch_size = min(batch_size, budget)
    bc_kwargs = {"n_epochs": bc_epochs, "progress_bar": False, "log_rollouts_venv": None}
    rounds = 0
    with quiet_logger() as logger, tempfile.TemporaryDirectory(prefix="noisy-expert-dagger-") as scratch:
        bc_trainer = make_bc_trainer(policy, rng, logger, batch_size=batch_size, lr=lr, ent_weight=ent_weight)
        trainer = SimpleDAggerTrainer(
            venv=venv,
            scratch_dir=scratch,
            expert_policy=expert,
            bc_trainer=bc_trainer,
            rng=rng,
            beta_schedule=LinearBetaSchedule(beta_rampdown),
            custom_logger=logger,
        )
        while oracle.queries < budget:
            collector = trainer.create_trajectory_collector()
            start = oracle.queries
            min_steps = max(round_min_timesteps, batch_size)

            def round_done(trajectories: list[types.TrajectoryWithRew]) -> bool:
                steps = oracle.queries - start
                enough = steps >= min_steps and len(trajectories) >= round_min_episodes
                return enough or oracle.queries >= budget

            rollout.generate_trajectories(
                expert, collector, round_done, rng=collector.rng, deterministic_policy=True
            )
            trainer.extend_and_update(bc_kwargs)
            rounds += 1
    venv.close()
    return {"labels_used": oracle.queries, "env_steps": env.steps, "rounds": rounds}
