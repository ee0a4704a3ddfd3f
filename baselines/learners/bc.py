"""Offline imitation: imitation's ``bc.BC`` on expert trajectories holding exactly ``budget`` labels.

``bc`` trains on the noisy expert's trajectories (SFT on teacher samples); ``bc_clean`` on the clean
expert's (the reference); ``sft_logits`` on the noisy expert's trajectories with the teacher's whole
action distribution at every visited state as the target (offline forward KL, the offline control
for OPD's distribution losses), one query per state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from imitation.data import rollout, types
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.learners.batches import ShuffledBatches
from baselines.learners.trainer import make_bc_trainer, quiet_logger
from baselines.learners.base import Accounting, OnRound, TrainingSettings, equal_updates, integer, optional, setting
from baselines.learners.oracle_policy import DistributionRecorder, LabelBudget, OraclePolicy
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task


class _CollectionOrder(np.random.Generator):
    """A generator whose ``shuffle`` keeps the order.

    imitation's ``generate_trajectories`` shuffles the finished trajectories; keeping them in the
    order they were collected makes a smaller budget's data a prefix of a larger budget's (nested
    data, which ``labels_to_target`` relies on). Training shuffles its minibatches anyway.
    """

    def shuffle(self, x: object, axis: int = 0) -> None:
        return None


class EnoughSteps:
    """imitation's ``make_sample_until(min_timesteps=n)``, counted as the trajectories come.

    ``generate_trajectories`` asks after every env step whether the finished trajectories hold
    ``n`` transitions; imitation's answer re-sums all of them each time (quadratic in the number
    of episodes: a fifth of collecting 2000 labels on CombinationLock H=20). The list it asks about
    only grows by appending, so the trajectories already counted are not counted again: the same
    answers, so the same demonstrations.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.counted = 0
        self.steps = 0

    def __call__(self, trajectories: list[types.TrajectoryWithRew]) -> bool:
        for trajectory in trajectories[self.counted:]:
            self.steps += len(trajectory.obs) - 1
        self.counted = len(trajectories)
        return self.steps >= self.n


def collect_demonstrations(
    task: Task, budget: int, seed: int, *, clean: bool = False, expert: OraclePolicy | None = None
) -> tuple[list[types.TrajectoryWithRew], int]:
    """Roll out the noisy (or, with ``clean``, the clean) expert for exactly ``budget`` steps.

    Each step's action is the expert's label for that state, so the trajectories hold ``budget``
    labelled transitions; the last one is truncated at the budget. Returns the trajectories and the
    number of oracle queries spent (always ``budget``). The trajectories are in collection order:
    with the same seed, the first ``b`` transitions of a larger budget's data are this budget's.
    ``expert`` replaces the acting policy (built on this run's oracle by the caller), e.g. a
    :class:`DistributionRecorder`.
    """
    seeds = RunSeeds(seed)
    env = LabelBudget(task.make_env(), budget)
    if expert is None:
        expert = OraclePolicy(task.oracle(seeds.oracle, clean=clean), budget)
    oracle = expert.oracle
    venv = DummyVecEnv([lambda: env])
    venv.seed(seeds.train_episode(0))
    trajectories = rollout.generate_trajectories(
        expert,
        venv,
        EnoughSteps(budget),
        rng=_CollectionOrder(np.random.PCG64(seeds.learner_rng().integers(2**63))),
        deterministic_policy=True,
    )
    venv.close()
    return trajectories, oracle.queries


def fit(
    policy: ActorCriticPolicy,
    obs: np.ndarray,
    acts: np.ndarray,
    *,
    updates: int,
    batch_size: int,
    lr: float,
    ent_weight: float,
    rng: np.random.Generator,
    loss: str = "sampled",
) -> None:
    """``updates`` gradient steps of imitation's BC on the labelled states ``(obs, acts)`` (with a
    distribution ``loss``, ``acts`` are the teacher's probability rows)."""
    with quiet_logger() as logger:
        trainer = make_bc_trainer(policy, rng, logger, batch_size=batch_size, lr=lr, ent_weight=ent_weight,
                                  loss=loss)
        trainer.set_demonstrations(ShuffledBatches(obs, acts, batch_size, rng))
        trainer.train(n_batches=updates, progress_bar=False, log_interval=updates + 1)


@dataclass(frozen=True)
class Demonstrations:
    """One run's labelled states and how they are fitted: ``targets`` are the labels (or, for loss
    ``forward_kl``, the teacher's probability rows); ``accounting.updates`` gradient steps of batch
    ``batch_size``."""

    obs: np.ndarray
    targets: np.ndarray
    loss: str
    batch_size: int
    accounting: Accounting


class BC:
    """Behaviour cloning on ``budget`` expert-labelled transitions (noisy, or clean for ``bc_clean``;
    with ``distribution``, ``sft_logits``: the noisy expert's probabilities at its own states, trained
    with forward KL, one query per state: the teacher's label is drawn from the distribution returned
    by the same query, so its chains follow the teacher's law but are not ``bc``'s draws).

    Trains for ``ceil(updates_per_label * budget)`` gradient steps (``schedule="equal"``), or for
    ``max(min_updates, epochs * n_transitions / batch_size)`` at lr 1e-3 (``schedule="legacy"``).
    """

    online = False  # one fit on a fixed data set: labels_to_target searches the budget

    @dataclass(frozen=True)
    class Settings(TrainingSettings):
        epochs: int | None = setting(None, optional(integer(1)), "`legacy` only (None: 10): passes over the data "
                                     "(gradient steps = max(min_updates, epochs*B/batch_size))")
        min_updates: int | None = setting(None, optional(integer(1)), "`legacy` only (None: 500): at least this "
                                          "many gradient steps")

        legacy_defaults: ClassVar[dict[str, Any]] = {"epochs": 10, "min_updates": 500}

    def __init__(self, *, clean: bool = False, distribution: bool = False) -> None:
        if clean and distribution:
            raise ValueError("the clean expert has no distribution to distil: choose clean or distribution")
        self.clean = clean
        self.distribution = distribution

    def check(self, task: Task, budget: int, settings: BC.Settings) -> None:
        """``ValueError`` when training on the teacher's distribution but the actions are not Discrete."""
        if self.distribution and not isinstance(task.action_space, spaces.Discrete):
            raise ValueError(f"sft_logits trains on the teacher's action probabilities and needs Discrete actions; "
                             f"{task.env_id} has {task.action_space}")

    def prepare(self, task: Task, *, budget: int, seed: int, settings: BC.Settings) -> Demonstrations:
        """Collect this run's demonstrations and fix its training: what :meth:`train` fits on (the
        batched engine, :mod:`baselines.learners.batched`, fits many seeds' at once)."""
        recorder = DistributionRecorder(task.oracle(RunSeeds(seed).oracle), budget) if self.distribution else None
        demos, labels = collect_demonstrations(task, budget, seed, clean=self.clean, expert=recorder)
        transitions = rollout.flatten_trajectories(demos)
        targets = transitions.acts if recorder is None else recorder.targets(transitions.obs)
        batch_size = min(settings.batch_size, len(transitions))
        if settings.schedule == "legacy":
            updates = max(settings.min_updates, settings.epochs * len(transitions) // batch_size)  # type: ignore[operator]  (resolved: never None here)
        else:
            updates = equal_updates(labels, settings.updates_per_label)
        accounting = Accounting(labels_used=labels, env_steps=labels, updates=updates, episodes=len(demos), rounds=1)
        return Demonstrations(transitions.obs, targets, "sampled" if recorder is None else "forward_kl", batch_size,
                              accounting)

    def train(self, policy: ActorCriticPolicy, task: Task, *, budget: int, seed: int, settings: BC.Settings,
              on_round: OnRound | None = None) -> Accounting:
        data = self.prepare(task, budget=budget, seed=seed, settings=settings)
        accounting = data.accounting
        fit(policy, data.obs, data.targets, updates=accounting.updates, batch_size=data.batch_size, lr=settings.lr,
            ent_weight=settings.ent_weight, rng=RunSeeds(seed).learner_rng(), loss=data.loss)
        if on_round is not None:
            on_round(policy, accounting)
        return accounting
