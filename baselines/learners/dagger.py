"""DAgger with the noisy oracle as expert, on imitation's ``SimpleDAggerTrainer``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, ClassVar

import datasets
from imitation.algorithms.dagger import LinearBetaSchedule, SimpleDAggerTrainer
from imitation.data import rollout, types
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.learners.trainer import make_bc_trainer, quiet_logger
from baselines.learners.base import Accounting, OnRound, TrainingSettings, equal_updates, integer, optional, setting
from baselines.learners.oracle_policy import LabelBudget, OraclePolicy
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task


class DAgger:
    """imitation's DAgger: each round the expert acts with probability beta (linear ramp-down over
    ``beta_rampdown`` rounds), else the learner acts (imitation *samples* its action); the expert
    labels every visited state; BC trains on all labels so far (``schedule="equal"``: until the
    gradient steps total ``ceil(updates_per_label * labels so far)``; ``"legacy"``: ``bc_epochs``
    epochs at lr 1e-3).

    We drive the rounds ourselves instead of calling ``SimpleDAggerTrainer.train`` because that loop
    finishes whole episodes past its timestep target, spending labels beyond the budget; here the env
    is truncated at the budget.
    """

    online = True  # trains in rounds: labels_to_target evaluates after each one

    @dataclass(frozen=True)
    class Settings(TrainingSettings):
        beta_rampdown: int = setting(15, integer(1), "rounds over which the expert's acting probability falls to 0")
        round_min_timesteps: int = setting(500, integer(1), "labelled steps collected per round (at least)")
        round_min_episodes: int = setting(3, integer(1), "episodes collected per round (at least)")
        bc_epochs: int | None = setting(None, optional(integer(1)), "`legacy` only (None: 4): BC epochs over all "
                                        "labels after each round")

        legacy_defaults: ClassVar[dict[str, Any]] = {"bc_epochs": 4}

    def train(self, policy: ActorCriticPolicy, task: Task, *, budget: int, seed: int, settings: DAgger.Settings,
              on_round: OnRound | None = None) -> Accounting:
        datasets.disable_progress_bars()
        seeds = RunSeeds(seed)
        env = LabelBudget(task.make_env(), budget)
        oracle = task.oracle(seeds.oracle)
        expert = OraclePolicy(oracle, budget)
        venv = DummyVecEnv([lambda: env])
        venv.seed(seeds.train_episode(0))
        rng = seeds.learner_rng()
        batch_size = min(settings.batch_size, budget)
        accounting = Accounting()

        def count_update(*_: object) -> None:
            accounting.updates += 1

        bc_kwargs = {"progress_bar": False, "log_rollouts_venv": None, "on_batch_end": count_update}
        with quiet_logger() as logger, tempfile.TemporaryDirectory(prefix="noisy-expert-dagger-") as scratch:
            bc_trainer = make_bc_trainer(policy, rng, logger, batch_size=batch_size, lr=settings.lr,
                                         ent_weight=settings.ent_weight)
            trainer = SimpleDAggerTrainer(
                venv=venv,
                scratch_dir=scratch,
                expert_policy=expert,
                bc_trainer=bc_trainer,
                rng=rng,
                beta_schedule=LinearBetaSchedule(settings.beta_rampdown),
                custom_logger=logger,
            )
            while oracle.queries < budget:
                collector = trainer.create_trajectory_collector()
                start = oracle.queries
                min_steps = max(settings.round_min_timesteps, batch_size)

                def round_done(trajectories: list[types.TrajectoryWithRew]) -> bool:
                    steps = oracle.queries - start
                    enough = steps >= min_steps and len(trajectories) >= settings.round_min_episodes
                    return enough or oracle.queries >= budget

                trajectories = rollout.generate_trajectories(
                    expert, collector, round_done, rng=collector.rng, deterministic_policy=True
                )
                accounting.episodes += len(trajectories)
                if settings.schedule == "legacy":
                    length = {"n_epochs": settings.bc_epochs}
                else:  # bring the total to U(labels so far); the round's data are already counted
                    length = {"n_batches": equal_updates(oracle.queries, settings.updates_per_label) - accounting.updates}
                trainer.extend_and_update({**bc_kwargs, **length})
                accounting.rounds += 1
                accounting.labels_used = oracle.queries
                accounting.env_steps = env.steps
                if on_round is not None and on_round(policy, accounting):
                    break
        venv.close()
        accounting.labels_used = oracle.queries
        accounting.env_steps = env.steps
        return accounting
