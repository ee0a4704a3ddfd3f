"""A learner of your own: the learner acts, the *clean* expert labels its states (a privileged reference)."""

from dataclasses import dataclass

import numpy as np

from baselines import Accounting, register_learner
from baselines.learners.bc import fit


class CleanDAgger:
    @dataclass(frozen=True)
    class Settings:
        updates_per_round: int = 50

    def train(self, policy, task, *, budget, seed, settings, on_round=None):
        env, oracle, acc = task.make_env(), task.oracle(seed), Accounting()
        states, labels = [], []
        while acc.labels_used < budget:
            obs, _ = env.reset(seed=seed)
            done = False
            while not done and len(states) < budget:
                states.append(obs)
                labels.append(oracle.clean(obs))  # one clean label per visited state
                obs, _, terminated, truncated, _ = env.step(policy.predict(obs, deterministic=True)[0])
                done = terminated or truncated
            acc.labels_used = acc.env_steps = len(states)
            acc.episodes += 1
            acc.rounds += 1
            fit(policy, np.asarray(states), np.asarray(labels), updates=settings.updates_per_round,
                batch_size=min(32, len(states)), lr=1e-3, ent_weight=0.0, rng=np.random.default_rng(seed))
            acc.updates += settings.updates_per_round
            if on_round is not None and on_round(policy, acc):
                break
        return acc


register_learner("clean_dagger", CleanDAgger())
