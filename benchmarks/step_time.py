"""Step time of a NoisyExpert task relative to the plain Gymnasium task, measured in the same run.

Both environments come from ``gym.make`` (so both carry PassiveEnvChecker, OrderEnforcing and
TimeLimit), take the same random actions from a seeded RNG and reset when an episode ends. The
three variants are timed in blocks; within a block they alternate every 1000 steps, so load from
other processes on the machine hits all of them alike. The table reports medians over blocks of the
step time and of the within-block ratio to the plain task.

    python benchmarks/step_time.py --steps 20000 --repeats 9
"""

from __future__ import annotations

import argparse
import gc
import itertools
import platform
import statistics
import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np

import noisy_expert_envs  # noqa: F401  (registers the NoisyExpert/* ids)


def make_variants(task: str, noise: str, epsilon: float) -> dict[str, gym.Env]:
    """The plain task, the noisy task with labels in ``info`` and the noisy task with labels off."""
    return {
        "plain": gym.make(task),
        "labels": gym.make(f"NoisyExpert/{task}", noise=noise, epsilon=epsilon),
        "labels=False": gym.make(f"NoisyExpert/{task}", noise=noise, epsilon=epsilon, labels=False),
    }


def time_chunk(env: gym.Env, actions: list[Any]) -> float:
    """Seconds to take ``actions`` in ``env``, resetting on episode end (reset time included)."""
    step, reset = env.step, env.reset
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            reset()
    return time.perf_counter() - start


def run(task: str, steps: int, repeats: int, seed: int, noise: str, epsilon: float,
        chunk: int = 1000) -> dict[str, list[float]]:
    """Per-block seconds per step of every variant.

    A block is ``steps`` steps of every variant, taken in chunks of ``chunk`` steps that alternate
    between the variants (the order rotates every chunk), so that a burst of load from other
    processes lands on all variants of the block alike; the ratio of two variants is then taken
    within each block.
    """
    envs = make_variants(task, noise, epsilon)
    space = envs["plain"].action_space
    assert isinstance(space, gym.spaces.Discrete), "step_time.py draws Discrete actions"
    rng = np.random.default_rng(seed)
    # Python ints, drawn up front: the same actions for every variant and no RNG cost in the loop.
    actions = [int(a) for a in space.start + rng.integers(space.n, size=steps)]
    names = list(envs)
    for name in names:  # warm-up: imports, first-step env checks, caches
        envs[name].reset(seed=seed)
        time_chunk(envs[name], actions[: min(steps, 2000)])
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        total = dict.fromkeys(names, 0.0)
        for name in names:
            envs[name].reset(seed=seed + rep)
        gc.collect()
        for i, lo in enumerate(range(0, steps, chunk)):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                total[name] += time_chunk(envs[name], actions[lo:lo + chunk])
        for name in names:
            times[name].append(total[name] / steps)
    return times


def table(times: dict[str, list[float]], task: str, noise: str, epsilon: float) -> str:
    """A markdown table: median step time per variant and the median of per-block ratios."""
    plain = times["plain"]
    rows = [
        "| variant | median step time (µs) | ratio to plain (median of blocks) | min–max ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    labels = {
        "plain": f'`gym.make("{task}")`',
        "labels": f'`gym.make("NoisyExpert/{task}")` ({noise} ε={epsilon}, labels in `info`)',
        "labels=False": f'`gym.make("NoisyExpert/{task}", labels=False)`',
    }
    for name, ts in times.items():
        ratios = [t / p for t, p in zip(ts, plain)]
        rows.append(
            f"| {labels[name]} | {statistics.median(ts) * 1e6:.2f} | {statistics.median(ratios):.2f} "
            f"| {min(ratios):.2f}–{max(ratios):.2f} |"
        )
    return "\n".join(rows)


def breakdown(task: str, noise: str, epsilon: float, repeats: int, seed: int, calls: int = 5000) -> str:
    """A markdown table of what one label costs, part by part, next to one plain step.

    Each part is one call on a single observation, timed ``calls`` times per round; the rounds
    interleave the parts and the table reports medians over rounds. ``oracle.clean(obs)`` is the
    single-observation path without the noise draw (observation check and clean expert).
    """
    plain = gym.make(task)
    noisy = gym.make(f"NoisyExpert/{task}", noise=noise, epsilon=epsilon)
    oracle = noisy.get_wrapper_attr("oracle")
    obs, _ = noisy.reset(seed=seed)
    plain.reset(seed=seed)
    batch = np.asarray(obs)[None]
    rng = np.random.default_rng(seed)
    n = int(plain.action_space.n)
    actions = itertools.cycle([int(a) for a in plain.action_space.start + rng.integers(n, size=4096)])
    act_one = getattr(oracle.expert, "act_one", None)
    expert_part: tuple[str, Callable[[], Any]] = (
        ("clean expert on one observation, `expert.act_one(obs)`", lambda: act_one(obs))
        if act_one is not None
        else ("clean expert on one observation, `expert(obs[None])` (no `act_one`)", lambda: oracle.expert(batch))
    )
    state = {"done": False}

    def plain_step() -> None:
        if state["done"]:
            plain.reset()
        _, _, terminated, truncated, _ = plain.step(next(actions))
        state["done"] = terminated or truncated

    parts: dict[str, Callable[[], Any]] = {
        f'one step of `gym.make("{task}")`': plain_step,
        "`oracle.sample(obs)` (one label: checks + expert + noise draw)": lambda: oracle.sample(obs),
        "`oracle.clean(obs)` (checks + expert, no noise draw)": lambda: oracle.clean(obs),
        expert_part[0]: expert_part[1],
        "for comparison: a scalar `rng.random()`": rng.random,
    }
    results: dict[str, list[float]] = {name: [] for name in parts}
    names = list(parts)
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            fn = parts[name]
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            results[name].append((time.perf_counter() - start) / calls)
    base = results[names[0]]
    rows = ["| part | median time (µs) | in plain steps |", "| --- | ---: | ---: |"]
    for name in names:
        ratio = statistics.median(t / b for t, b in zip(results[name], base))
        rows.append(f"| {name} | {statistics.median(results[name]) * 1e6:.2f} | {ratio:.2f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20_000, help="steps per timed block (default 20000)")
    parser.add_argument("--repeats", type=int, default=9, help="timed blocks per variant (default 9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the action RNG and resets")
    parser.add_argument("--task", default="CartPole-v1",
                        help="a Discrete task registered plainly and as NoisyExpert/<task> "
                             "(default CartPole-v1)")
    parser.add_argument("--noise", default="uniform",
                        help="noise model of the noisy variant, one with an epsilon (default uniform)")
    parser.add_argument("--epsilon", type=float, default=0.2, help="its epsilon (default 0.2)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the parts of one label (expert, noise, RNG) against a plain step")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    times = run(args.task, args.steps, args.repeats, args.seed, args.noise, args.epsilon)
    print(f"{args.task}: {args.repeats} interleaved blocks of {args.steps} steps, random actions "
          f"(seed {args.seed}); Python {platform.python_version()}, numpy {np.__version__}, "
          f"gymnasium {gym.__version__}\n")
    print(table(times, args.task, args.noise, args.epsilon))
    if args.breakdown:
        print(f"\nWhere a label's time goes (medians of {args.repeats} interleaved rounds):\n")
        print(breakdown(args.task, args.noise, args.epsilon, args.repeats, args.seed))


if __name__ == "__main__":
    main()
