"""Measure the returns of the clean experts on Gymnasium's own tasks.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/expert_returns.py --episodes 100 --seed-offset 0 [--tasks LunarLander]

For every task the expert is run for N episodes (``env.reset(seed=seed)`` with seeds
``offset .. offset+N-1``), calling the expert on ``obs[None]`` and taking ``[0]``; a markdown
table of the returns is printed. The tasks: the analytic classic-control experts, and LunarLander
(Gymnasium's own heuristic; needs the ``[box2d]`` extra, skipped with a note without it), whose id is
LunarLander-v3 on gymnasium 1.x and LunarLander-v2 on 0.29.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

from noisy_expert_envs.compat import LUNAR_LANDER_ID, patch_acrobot  # noqa: E402

patch_acrobot()  # Gymnasium 0.29.1's Acrobot uses np.float_, removed in NumPy 2.0

import gymnasium  # noqa: E402

from noisy_expert_envs.experts.classic_control import CLASSIC_CONTROL_EXPERTS  # noqa: E402

# Mean-return targets (higher is better).
TARGETS: Dict[str, float] = {
    "CartPole-v1": 500.0,
    "MountainCar-v0": -120.0,
    "Acrobot-v1": -100.0,
    "Pendulum-v1": -200.0,
    "MountainCarContinuous-v0": 90.0,
    LUNAR_LANDER_ID: 200.0,
}


def experts() -> Dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]]:
    """Task id -> expert factory; LunarLander only when Box2D is installed."""
    table: Dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = dict(CLASSIC_CONTROL_EXPERTS)
    try:
        from noisy_expert_envs.experts.lunar_lander import LunarLanderExpert

        LunarLanderExpert()  # imports Box2D
    except gymnasium.error.DependencyNotInstalled as e:
        print(f"# {LUNAR_LANDER_ID} skipped: {e}", file=sys.stderr)
    else:
        table[LUNAR_LANDER_ID] = LunarLanderExpert
    return table


def run_episodes(env_id: str, expert: Callable[[np.ndarray], np.ndarray], seeds: List[int]) -> np.ndarray:
    """Return the undiscounted return of each episode, one per seed."""
    env = gymnasium.make(env_id)
    returns = []
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                action = expert(obs[None])[0]
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return np.asarray(returns, dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100, help="episodes per task")
    parser.add_argument("--seed-offset", type=int, default=0, help="first reset seed")
    parser.add_argument("--tasks", nargs="+", metavar="NAME",
                        help="only the tasks whose id contains one of these names (default: all)")
    args = parser.parse_args()
    seeds = list(range(args.seed_offset, args.seed_offset + args.episodes))

    rows: List[Tuple[str, ...]] = []
    for env_id, expert_cls in experts().items():
        if args.tasks and not any(name in env_id for name in args.tasks):
            continue
        start = time.perf_counter()
        returns = run_episodes(env_id, expert_cls(), seeds)
        elapsed = time.perf_counter() - start
        target = TARGETS[env_id]
        mean = float(returns.mean())
        rows.append(
            (
                env_id,
                str(len(returns)),
                f"{mean:.2f}",
                f"{returns.std():.2f}",
                f"{returns.min():.2f}",
                f"{target:g}",
                "yes" if mean >= target else "no",
            )
        )
        print(f"# {env_id}: {len(returns)} episodes in {elapsed:.1f}s", file=sys.stderr)

    header = ("task", "episodes", "mean return", "std", "min", "target", "met")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
