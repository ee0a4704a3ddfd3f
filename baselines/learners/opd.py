"""On-policy distillation (OPD): the learner acts, the noisy oracle labels the learner's own states.

One round, top to bottom in :meth:`OPD.train`: roll out (the learner acts, greedily by default; a
GKD-style fraction ``lmbda`` of episodes is acted by the noisy expert instead), label every visited
state with the oracle (as many as the budget allows), add the labels to the dataset, and train the
learner on all labels so far with imitation's BC trainer and a distillation loss. Repeat until the
budget is spent. Under the default ``schedule="equal"`` a round takes the gradient steps that bring
the total to ``ceil(updates_per_label * labels so far)`` (the same total BC takes at that many
labels); under ``"legacy"`` it takes ``updates_per_round`` steps.

We write this loop rather than reuse ``SimpleDAggerTrainer`` because DAgger (a) always *samples* the
learner's actions, which with a noisy teacher reproduces the noise and makes it behave like offline
BC, (b) can only store one sampled action per state, so it cannot train on the teacher's
distribution or on a plurality of k labels, and (c) writes every trajectory to disk as a Hugging
Face dataset. The gradient steps stay imitation's (``bc.BC.train``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from baselines.batches import ShuffledBatches
from baselines.bc_trainer import make_bc_trainer, quiet_logger
from baselines.learners.base import (
    Accounting, OnRound, TrainingSettings, boolean, choice, equal_updates, integer, optional, probability, setting,
)
from baselines.losses import DISCRETE_ONLY_LOSSES, DISTRIBUTION_LOSSES, LOSSES
from baselines.seeds import RunSeeds
from baselines.task import Task
from noisy_expert_envs.oracle import NoisyOracle


def label_states(
    oracle: NoisyOracle, states: np.ndarray, loss: str, k: int, rng: np.random.Generator
) -> np.ndarray:
    """The training targets of ``states`` under ``loss``.

    ``sampled``: one noisy label each; ``plurality``: the most frequent of ``k`` noisy labels (ties
    broken at random); distribution losses: the oracle's action probabilities.
    """
    if loss in DISTRIBUTION_LOSSES:
        return oracle.probs(states).astype(np.float32)
    if loss == "plurality":
        n_actions = int(oracle.action_space.n)  # type: ignore[attr-defined]
        votes = np.stack([oracle.sample(states) for _ in range(k)], axis=1) - int(oracle.action_space.start)  # type: ignore[attr-defined]
        counts = np.stack([(votes == a).sum(axis=1) for a in range(n_actions)], axis=1)
        tie_break = rng.random(counts.shape) * 0.5
        return (np.argmax(counts + tie_break, axis=1) + int(oracle.action_space.start)).astype(np.int64)  # type: ignore[attr-defined]
    return oracle.sample(states)


class OPD:
    """On-policy distillation within ``budget`` oracle queries (see the module docstring)."""

    online = True  # trains in rounds: labels_to_target evaluates after each one

    @dataclass(frozen=True)
    class Settings(TrainingSettings):
        loss: str = setting("sampled", choice(*LOSSES), "training target: one label, a plurality of k, or the distribution")
        k: int = setting(3, integer(1), "labels per state for the plurality loss")
        beta: float = setting(0.5, probability, "gjsd interpolation: 0 forward KL, 1 reverse KL")
        lmbda: float = setting(0.0, probability, "fraction of episodes acted by the noisy expert (GKD's lambda)")
        greedy_rollouts: bool = setting(True, boolean, "the learner acts greedily (False: samples its actions)")
        episodes_per_round: int = setting(1, integer(1), "episodes rolled out before each training round")
        updates_per_round: int | None = setting(None, optional(integer(1)), "`legacy` only (None: 50): gradient "
                                                "steps per round (at lr 3e-3)")

        legacy_lr: ClassVar[float] = 3e-3
        legacy_defaults: ClassVar[dict[str, Any]] = {"updates_per_round": 50}

    def check(self, task: Task, budget: int, settings: OPD.Settings) -> None:
        """``ValueError`` unless the loss fits the task's actions and the budget pays for one state."""
        if settings.loss in DISCRETE_ONLY_LOSSES and not isinstance(task.action_space, spaces.Discrete):
            raise ValueError(
                f"loss {settings.loss!r} needs Discrete actions; {task.env_id} has {task.action_space}. "
                f"Valid losses for continuous actions: ['sampled']"
            )
        cost = settings.k if settings.loss == "plurality" else 1
        if budget < cost:
            raise ValueError(f"budget {budget} cannot label a single state with loss {settings.loss!r} "
                             f"(k={settings.k} labels per state): give a budget >= {cost}")

    def train(self, policy: ActorCriticPolicy, task: Task, *, budget: int, seed: int, settings: OPD.Settings,
              on_round: OnRound | None = None) -> Accounting:
        s = settings
        seeds = RunSeeds(seed)
        env = task.make_env()
        oracle = task.oracle(seeds.oracle)
        rng = seeds.learner_rng()
        cost_per_state = s.k if s.loss == "plurality" else 1
        dataset_obs: list[np.ndarray] = []
        dataset_targets: list[np.ndarray] = []
        acc = Accounting(extra={"labelled_states": 0})
        with quiet_logger() as logger:
            trainer = make_bc_trainer(policy, rng, logger, batch_size=s.batch_size, lr=s.lr,
                                      ent_weight=s.ent_weight, loss=s.loss, beta=s.beta)
            while budget - oracle.queries >= cost_per_state:
                # 1. Roll out: the learner acts; a fraction lmbda of episodes, the noisy expert acts.
                visited: list[np.ndarray] = []
                for _ in range(s.episodes_per_round):
                    teacher_acts = s.lmbda > 0.0 and rng.random() < s.lmbda
                    obs, _ = env.reset(seed=seeds.train_episode(acc.episodes))
                    acc.episodes += 1
                    done = False
                    while not done:
                        visited.append(obs)
                        if teacher_acts:
                            if budget - oracle.queries < 1 + cost_per_state * len(visited):
                                break  # keep enough budget to label what was visited
                            action = oracle.sample(obs)
                        else:
                            action = policy.predict(obs, deterministic=s.greedy_rollouts)[0]
                        obs, _, terminated, truncated, _ = env.step(action)
                        acc.env_steps += 1
                        done = terminated or truncated
                # 2. Label the visited states, as many as the remaining budget pays for.
                n_labels = min(len(visited), (budget - oracle.queries) // cost_per_state)
                if n_labels == 0:
                    break
                states = np.asarray(visited[:n_labels])
                dataset_obs.append(states)
                dataset_targets.append(label_states(oracle, states, s.loss, s.k, rng))
                acc.labels_used = oracle.queries
                acc.extra["labelled_states"] += n_labels
                # 3. Train on all labels so far (BC's loader drops incomplete batches: cap the batch size).
                #    Under `equal` this round's steps bring the total to U(labels so far), so a round
                #    with few labels gets few steps (possibly none).
                if s.schedule == "legacy":
                    steps = int(s.updates_per_round)  # type: ignore[arg-type]  (resolved: never None here)
                else:
                    steps = equal_updates(acc.labels_used, s.updates_per_label) - acc.updates
                if steps > 0:
                    all_obs = np.concatenate(dataset_obs)
                    all_targets = np.concatenate(dataset_targets)
                    trainer.batch_size = trainer.minibatch_size = min(s.batch_size, len(all_obs))
                    trainer.set_demonstrations(ShuffledBatches(all_obs, all_targets, trainer.batch_size, rng))
                    trainer.train(n_batches=steps, progress_bar=False, log_interval=steps + 1)
                    acc.updates += steps
                acc.rounds += 1
                if on_round is not None and on_round(policy, acc):
                    break
        env.close()
        return acc
