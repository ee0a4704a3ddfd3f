"""Noisy-oracle labels per second: ``oracle.sample(obs)`` for one observation and for batches.

For each task and noise model the oracle comes from ``gym.make("NoisyExpert/<task>", ...)``; the
observations are realistic states (random depths of the lock, states visited by random CartPole
play). Configurations are timed in interleaved rounds and the table reports medians over rounds.
``single`` is an unbatched observation (what the wrapper passes every step), ``1`` a batch of one.

    python benchmarks/oracle_throughput.py --repeats 7
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from typing import Any

import gymnasium as gym
import numpy as np

import noisy_expert_envs  # noqa: F401  (registers the NoisyExpert/* ids)

TASKS: dict[str, dict[str, Any]] = {
    "CombinationLock-v0": {"horizon": 20},
    "CartPole-v1": {},
}
NOISES: dict[str, dict[str, Any]] = {
    "uniform ε=0.2": {"noise": "uniform", "epsilon": 0.2},
    "fixed_wrong ε=0.2": {"noise": "fixed_wrong", "epsilon": 0.2},
    "boltzmann T=1": {"noise": "boltzmann", "temperature": 1.0},
}
BATCHES: tuple[str, ...] = ("single", "1", "4096")


def observations(env: gym.Env, n: int, seed: int) -> np.ndarray:
    """``n`` observations visited by random play (restarting episodes as they end)."""
    rng = np.random.default_rng(seed)
    if "CombinationLock" in env.spec.id:  # random play rarely gets deep: draw the depth directly
        depth = rng.integers(env.unwrapped.horizon + 1, size=n)
        return np.eye(env.unwrapped.horizon + 1, dtype=np.float32)[depth]
    obs, _ = env.reset(seed=seed)
    out = []
    while len(out) < n:  # the observations acted on (a terminal one is not asked about)
        out.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return np.asarray(out)


def time_config(oracle: Any, obs: np.ndarray, batch: str, min_labels: int) -> float:
    """Labels per second of ``oracle.sample`` at one batch setting."""
    if batch == "single":
        inputs = [obs[i] for i in range(64)]
    else:
        size = int(batch)
        inputs = [obs[(i * size) % len(obs):][:size] for i in range(64)] if size < len(obs) else [obs[:size]]
    per_call = 1 if batch == "single" else len(inputs[0])
    if per_call == 1:  # one call per label: a tenth of the labels keeps rounds short
        min_labels //= 10
    calls = max(1, min_labels // per_call)
    sample = oracle.sample
    gc.collect()
    start = time.perf_counter()
    for i in range(calls):
        sample(inputs[i % len(inputs)])
    return calls * per_call / (time.perf_counter() - start)


def run(repeats: int, min_labels: int, seed: int) -> dict[tuple[str, str, str], list[float]]:
    oracles: dict[tuple[str, str], tuple[Any, np.ndarray]] = {}
    for task, task_kwargs in TASKS.items():
        for noise_name, noise_kwargs in NOISES.items():
            env = gym.make(f"NoisyExpert/{task}", **task_kwargs, **noise_kwargs)
            obs = observations(env, 4096, seed)
            oracle = env.get_wrapper_attr("oracle")
            oracle.reset_rng(seed)
            oracles[(task, noise_name)] = (oracle, obs)
    results: dict[tuple[str, str, str], list[float]] = {}
    configs = [(t, n, b) for (t, n) in oracles for b in BATCHES]
    for (t, n, b) in configs:  # warm-up
        time_config(*oracles[(t, n)], b, min_labels // 20)
    for rep in range(repeats):
        shift = rep % len(configs)
        for (t, n, b) in configs[shift:] + configs[:shift]:
            results.setdefault((t, n, b), []).append(time_config(*oracles[(t, n)], b, min_labels))
    return results


def table(results: dict[tuple[str, str, str], list[float]]) -> str:
    rows = [
        "| task | noise | single obs (labels/s) | batch 1 (labels/s) | batch 4096 (labels/s) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for task, task_kwargs in TASKS.items():
        shown = task + "".join(f" ({k} {v})" for k, v in task_kwargs.items())
        for noise_name in NOISES:
            cells = [f"{statistics.median(results[(task, noise_name, b)]):,.0f}" for b in BATCHES]
            rows.append(f"| {shown} | {noise_name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds (default 7)")
    parser.add_argument("--labels", type=int, default=200_000,
                        help="labels per timed call sequence at batch 4096 (default 200000; a tenth of it "
                             "at batch sizes 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.labels < 1:
        parser.error("--repeats and --labels must be >= 1")
    results = run(args.repeats, args.labels, args.seed)
    print(f"median of {args.repeats} interleaved rounds; Python {platform.python_version()}, "
          f"numpy {np.__version__}, gymnasium {gym.__version__}\n")
    print(table(results))


if __name__ == "__main__":
    main()
