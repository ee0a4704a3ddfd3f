"""Wall time to open the lock: our ``opd`` vs imitation's stock ``SimpleDAggerTrainer``.

Both learn CombinationLock (horizon 20, 4 actions, uniform noise) from the same noisy oracle and
stop as soon as the greedy learner opens the lock; both are measured in the same run, alternating,
over several seeds. Usage::

    python benchmarks/opd_vs_dagger.py --horizon 20 --epsilon 0.2 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import datasets
import numpy as np
import torch as th
from imitation.algorithms import bc
from imitation.algorithms.dagger import SimpleDAggerTrainer
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.learners.trainer import quiet_logger
from baselines.learners import OPD
from baselines.learners.oracle_policy import OraclePolicy
from baselines.core.policies import make_policy
from baselines.core.seeds import RunSeeds
from baselines.core.task import Task, make_env

ENV = "NoisyExpert/CombinationLock-v0"


def opens_lock(policy: object, env_kwargs: dict) -> bool:
    """One greedy episode (the lock is deterministic): did it open?"""
    env = make_env(ENV, env_kwargs)
    obs, _ = env.reset(seed=0)
    while True:
        obs, reward, terminated, truncated, _ = env.step(policy.predict(obs, deterministic=True)[0])  # type: ignore[attr-defined]
        if terminated or truncated:
            return reward > 0


def time_opd(env_kwargs: dict, seed: int, max_labels: int) -> tuple[float, int, bool]:
    """Our OPD (plurality of 3 labels, greedy rollouts), stopped at the first success."""
    RunSeeds(seed).seed_global()
    task = Task(ENV, env_kwargs)
    policy = make_policy(task)
    start = time.perf_counter()
    accounting = OPD().train(policy, task, budget=max_labels, seed=seed, settings=OPD.Settings(loss="plurality"),
                             on_round=lambda p, _: opens_lock(p, env_kwargs))
    return time.perf_counter() - start, accounting.labels_used, opens_lock(policy, env_kwargs)


def time_stock_dagger(env_kwargs: dict, seed: int, max_labels: int) -> tuple[float, int, bool]:
    """imitation's SimpleDAggerTrainer with its defaults, one ``train`` round at a time."""
    seeds = RunSeeds(seed)
    seeds.seed_global()
    datasets.disable_progress_bars()
    task = Task(ENV, env_kwargs)
    env = task.make_env()
    oracle = task.oracle(seeds.oracle)
    venv = DummyVecEnv([lambda: make_env(ENV, env_kwargs)])
    venv.seed(seeds.train_episode(0))
    rng = seeds.learner_rng()
    start = time.perf_counter()
    with quiet_logger() as logger, tempfile.TemporaryDirectory() as scratch:
        learner = bc.BC(observation_space=env.observation_space, action_space=env.action_space, rng=rng,
                        policy=make_policy(env), custom_logger=logger)
        trainer = SimpleDAggerTrainer(venv=venv, scratch_dir=scratch, expert_policy=OraclePolicy(oracle),
                                      bc_trainer=learner, rng=rng, custom_logger=logger)
        while oracle.queries < max_labels and not opens_lock(learner.policy, env_kwargs):
            # total_timesteps=1: exactly one DAgger round (its own minimum round size applies).
            trainer.train(total_timesteps=1, bc_train_kwargs={"progress_bar": False, "log_rollouts_venv": None})
    return time.perf_counter() - start, oracle.queries, opens_lock(learner.policy, env_kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--epsilon", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-labels", type=int, default=30_000)
    args = parser.parse_args()
    env_kwargs = dict(horizon=args.horizon, n_actions=4, noise="uniform", epsilon=args.epsilon)
    th.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    for seed in args.seeds:
        ours = time_opd(env_kwargs, seed, args.max_labels)
        stock = time_stock_dagger(env_kwargs, seed, args.max_labels)
        rows.append((seed, ours, stock))
    print(f"CombinationLock horizon {args.horizon}, uniform eps {args.epsilon}; stop at first greedy success\n")
    print("| seed | opd time (s) | opd labels | opd solved | stock DAgger time (s) | DAgger labels | DAgger solved | time ratio DAgger/opd |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, (t1, l1, s1), (t2, l2, s2) in rows:
        print(f"| {seed} | {t1:.1f} | {l1} | {s1} | {t2:.1f} | {l2} | {s2} | {t2 / t1:.1f} |")
    ratio = np.median([r[2][0] / r[1][0] for r in rows])
    print(f"\nmedian wall-time ratio stock DAgger / opd: {ratio:.1f}x")


if __name__ == "__main__":
    main()
