"""On-policy distillation (OPD): the learner acts, the noisy oracle labels the learner's own states.

One round, top to bottom in :func:`train_opd`: roll out (the learner acts, greedily by default; a
GKD-style fraction ``lmbda`` of episodes is acted by the noisy expert instead), label every visited
state with the oracle (as many as the budget allows), add the labels to the dataset, and train the
learner on all labels so far with imitation's BC trainer and a distillation loss. Repeat until the
budget is spent.

We write this loop rather than reuse ``SimpleDAggerTrainer`` because DAgger (a) always *samples* the
learner's actions, which with a noisy teacher reproduces the noise and makes it behave like offline
BC, (b) can only store one sampled action per state, so it cannot train on the teacher's
distribution or on a plurality of k labels, and (c) writes every trajectory to disk as a Hugging
Face dataset. The gradient steps stay imitation's (``bc.BC.train``).
"""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np
from stable_baselines3.common.policies import ActorCriticPolicy

from baselines.adapters import make_bc_trainer, quiet_logger
from baselines.batches import ShuffledBatches
from baselines.losses import DISTRIBUTION_LOSSES
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


def train_opd(
    policy: ActorCriticPolicy,
    env: gym.Env,
    oracle: NoisyOracle,
    *,
    budget: int,
    seed: int,
    loss: str = "sampled",
    k: int = 3,
    beta: float = 0.5,
    lmbda: float = 0.0,
    greedy_rollouts: bool = True,
    episodes_per_round: int = 1,
    updates_per_round: int = 50,
    batch_size: int = 32,
    lr: float = 3e-3,
    ent_weight: float = 1e-3,
    stop_when: Callable[[ActorCriticPolicy], bool] | None = None,
) -> dict[str, Any]:
    """Train ``policy`` by on-policy distillation within ``budget`` oracle queries.

    ``stop_when(policy)``, if given, is asked after every round and ends training early when true
    (benchmarks use it to time "until success"). Returns accounting: ``labels_used``,
    ``env_steps``, ``rounds``, ``labelled_states``.
    """
    rng = np.random.default_rng(seed)
    cost_per_state = k if loss == "plurality" else 1
    dataset_obs: list[np.ndarray] = []
    dataset_targets: list[np.ndarray] = []
    env_steps = rounds = episodes = 0
    with quiet_logger() as logger:
        trainer = make_bc_trainer(policy, rng, logger, batch_size=batch_size, lr=lr, ent_weight=ent_weight,
                                  loss=loss, beta=beta)
        while budget - oracle.queries >= cost_per_state:
            # 1. Roll out: the learner acts; a fraction lmbda of episodes, the noisy expert acts.
            visited: list[np.ndarray] = []
            for _ in range(episodes_per_round):
                teacher_acts = lmbda > 0.0 and rng.random() < lmbda
                obs, _ = env.reset(seed=seed * 1_000_003 + episodes)
                episodes += 1
                done = False
                while not done:
                    visited.append(obs)
                    if teacher_acts:
                        if budget - oracle.queries < 1 + cost_per_state * len(visited):
                            break  # keep enough budget to label what was visited
                        action = oracle.sample(obs)
                    else:
                        action = policy.predict(obs, deterministic=greedy_rollouts)[0]
                    obs, _, terminated, truncated, _ = env.step(action)
                    env_steps += 1
                    done = terminated or truncated
            # 2. Label the visited states, as many as the remaining budget pays for.
            n_labels = min(len(visited), (budget - oracle.queries) // cost_per_state)
            if n_labels == 0:
                break
            states = np.asarray(visited[:n_labels])
            dataset_obs.append(states)
            dataset_targets.append(label_states(oracle, states, loss, k, rng))
            # 3. Train on all labels so far (BC's loader drops incomplete batches: cap the batch size).
            all_obs = np.concatenate(dataset_obs)
            all_targets = np.concatenate(dataset_targets)
            trainer.batch_size = trainer.minibatch_size = min(batch_size, len(all_obs))
            trainer.set_demonstrations(ShuffledBatches(all_obs, all_targets, trainer.batch_size, rng))
            trainer.train(n_batches=updates_per_round, progress_bar=False, log_interval=updates_per_round + 1)
            rounds += 1
            if stop_when is not None and stop_when(policy):
                break
    return {
        "labels_used": oracle.queries,
        "env_steps": env_steps,
        "rounds": rounds,
        "labelled_states": int(sum(len(o) for o in dataset_obs)),
    }
